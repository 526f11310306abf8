//! The scenario file: its TOML format (serde types with spans) and its validation. A [`Scenario`] is
//! a file that parsed and passed every check; [`crate::World::build`] turns it into a world.
//!
//! ```toml
//! name = "quickstart"                       # optional
//! description = "…"                         # optional
//!
//! [[network]]
//! name = "spoke"
//! peered_with = ["hub"]                     # optional
//! resolver_address = "127.53.0.9"          # optional (allocated otherwise)
//! resolver_port = 5300                      # optional (the caller picks otherwise)
//! client_address = "127.11.9.1"            # optional (allocated otherwise)
//! [network.dns_forwarder]                   # optional: a custom DNS server
//! name = "old-dns"                          # optional, default "custom-dns"
//! forwards_to = "hub"                       # optional: whose Azure DNS answers the rest (default: this network)
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
//! public_blocked_action = "refuse"          # refuse | drop | reset
//! running = true
//! public_address = "127.20.0.7"             # optional
//! firewall_rules = [{ name = "office", start = "127.0.0.1", end = "127.0.0.1" }]
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
//! auto_register = true                      # default: endpoints of caches whose flavour uses this zone register their A record (Azure's DNS zone group)
//! records = [{ name = "contoso", address = "127.10.1.4", ttl = 10 }]
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
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::address::is_loopback;
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::expect::{Expectation, ExpectationSpec};
use crate::flavour::Flavour;
use crate::location::Position;
use crate::model::{
    BlockedAction, ConnectionState, DenyAs, PublicNetworkAccess, ResolutionPolicy, RuleAction,
};
use crate::names::{
    self, RecordNameError, default_link_name, is_dns_name, is_host_label, normalize_name,
};
use crate::text::ScenarioText;
use crate::timeline::{Step, StepSpec};
use crate::toxic::{ToxicDirection, ToxicKind};

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

/// Redis's ACL categories (`+@name` / `-@name`), to reject unknown ones while parsing.
const ACL_CATEGORIES: &[&str] = &[
    "all",
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Check one ACL rule's shape (what can be checked without the engine's command table: keywords,
/// password hashes, key-permission prefixes, categories). `Err` says what is wrong.
pub fn check_acl_rule(rule: &str) -> Result<(), String> {
    let lower = rule.to_ascii_lowercase();
    const KEYWORDS: &[&str] = &[
        "on",
        "off",
        "nopass",
        "resetpass",
        "reset",
        "allkeys",
        "resetkeys",
        "allchannels",
        "resetchannels",
        "allcommands",
        "nocommands",
        "sanitize-payload",
        "skip-sanitize-payload",
    ];
    if KEYWORDS.contains(&lower.as_str()) {
        return Ok(());
    }
    let mut chars = rule.chars();
    match chars.next() {
        Some('>' | '<' | '~' | '&') => Ok(()),
        Some('#' | '!') => {
            let hash = chars.as_str();
            if hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(())
            } else {
                Err(format!(
                    "ACL rule {rule:?}: a password hash must be exactly 64 lowercase hexadecimal characters (SHA-256)"
                ))
            }
        }
        Some('%') => match chars.as_str().split_once('~') {
            Some((perm, _))
                if !perm.is_empty() && perm.chars().all(|c| matches!(c, 'R' | 'W' | 'r' | 'w')) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "ACL rule {rule:?}: key permissions are written %R~pattern, %W~pattern or %RW~pattern"
            )),
        },
        Some('+' | '-') if lower.len() > 1 => match lower[1..].strip_prefix('@') {
            Some(cat) if !ACL_CATEGORIES.contains(&cat) => Err(format!(
                "ACL rule {rule:?}: unknown category @{cat} (categories: {})",
                ACL_CATEGORIES.join(", ")
            )),
            _ => Ok(()),
        },
        _ => Err(format!(
            "ACL rule {rule:?} is not a rule: use on/off, >password, nopass, +command, -command, +@category, ~keypattern, &channel, allkeys, allchannels, reset..."
        )),
    }
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
    /// Address.
    pub address: Spanned<Ipv4Addr>,
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

/// The `kind` of a `[[toxic]]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToxicKindName {
    /// `latency_ms`, `jitter_ms`.
    Latency,
    /// `rate_kbps`.
    Bandwidth,
    /// `avg_size`, `delay_us`.
    Slicer,
    /// `bytes`.
    ResetAfter,
    /// `timeout_ms`.
    Timeout,
}

/// A `[[toxic]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// A private endpoint or a cache.
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// A source network.
    #[serde(default)]
    pub network: Option<Spanned<String>>,
    /// What it does.
    pub kind: Spanned<ToxicKindName>,
    /// Which way (default downstream).
    #[serde(default)]
    pub direction: ToxicDirection,
    /// latency: added delay.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// latency: variation.
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// bandwidth: KB/s.
    #[serde(default)]
    pub rate_kbps: Option<u64>,
    /// slicer: average piece size.
    #[serde(default)]
    pub avg_size: Option<u64>,
    /// slicer: delay between pieces.
    #[serde(default)]
    pub delay_us: Option<u64>,
    /// reset_after: bytes before the reset.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// timeout: milliseconds before the reset (0 = hold forever).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ToxicSpec {
    /// The toxic's kind with its parameters, or why the table does not describe one.
    pub fn toxic_kind(&self) -> Result<ToxicKind, String> {
        let given: Vec<(&str, Option<u64>)> = vec![
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
            ("rate_kbps", self.rate_kbps),
            ("avg_size", self.avg_size),
            ("delay_us", self.delay_us),
            ("bytes", self.bytes),
            ("timeout_ms", self.timeout_ms),
        ];
        let (kind, allowed): (&str, &[&str]) = match self.kind.get_ref() {
            ToxicKindName::Latency => ("latency", &["latency_ms", "jitter_ms"]),
            ToxicKindName::Bandwidth => ("bandwidth", &["rate_kbps"]),
            ToxicKindName::Slicer => ("slicer", &["avg_size", "delay_us"]),
            ToxicKindName::ResetAfter => ("reset_after", &["bytes"]),
            ToxicKindName::Timeout => ("timeout", &["timeout_ms"]),
        };
        if let Some((field, _)) = given
            .iter()
            .find(|(f, v)| v.is_some() && !allowed.contains(f))
        {
            return Err(format!(
                "toxic {}: {field} does not apply to kind {kind} (it takes {})",
                self.name.get_ref(),
                allowed.join(", ")
            ));
        }
        let need = |field: &str, v: Option<u64>| {
            v.ok_or_else(|| format!("toxic {}: kind {kind} needs {field}", self.name.get_ref()))
        };
        Ok(match self.kind.get_ref() {
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
        })
    }
}

/// A parsed and validated scenario file.
#[derive(Clone, Debug)]
pub struct Scenario {
    source: ScenarioText,
    /// The file's content.
    pub spec: ScenarioFile,
    /// The top-level expectations, validated.
    expectations: Vec<Expectation>,
    /// The timeline, validated.
    steps: Vec<Step>,
}

impl Scenario {
    /// Reads and parses the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            position: None,
            kind: ScenarioErrorKind::Io,
            message: format!("cannot read the scenario: {e}"),
        })?;
        Scenario::parse(&file, &text)
    }

    /// Parses and validates `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let spec: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            file: file.to_owned(),
            position: e.span().map(|s| Position::of_span(text, &s)),
            kind: ScenarioErrorKind::Syntax,
            message: e.message().trim_end().to_owned(),
        })?;
        let mut scenario = Scenario {
            source: ScenarioText::new(file, text),
            spec,
            expectations: Vec::new(),
            steps: Vec::new(),
        };
        scenario.validate()?;
        let (expectations, steps) = crate::timeline::compile(&scenario)?;
        scenario.expectations = expectations;
        scenario.steps = steps;
        Ok(scenario)
    }

    /// The file name given to the parser.
    pub fn file(&self) -> &str {
        self.source.file()
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        self.source.text()
    }

    /// The top-level expectations (checked against the initial world), in file order.
    pub fn expectations(&self) -> impl Iterator<Item = &Expectation> {
        self.expectations.iter()
    }

    /// The timeline steps, in file order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every expectation: the top-level ones, then each step's.
    pub fn expectation_count(&self) -> usize {
        self.expectations.len()
            + self
                .steps
                .iter()
                .map(|s| s.expectations.len())
                .sum::<usize>()
    }

    /// The position of byte range `span` in the file.
    pub fn position(&self, span: &Range<usize>) -> Position {
        self.source.position(span)
    }

    /// An error pointing at `span`.
    pub fn error(
        &self,
        span: &Range<usize>,
        kind: ScenarioErrorKind,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.source.error(span, kind, message)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        use ScenarioErrorKind::*;
        let s = &self.spec;
        let names = |kind: &'static str,
                     items: Vec<&Spanned<String>>|
         -> Result<HashSet<String>, ScenarioError> {
            let mut seen = HashSet::new();
            for name in items {
                check_name(self, kind, name)?;
                if !seen.insert(name.get_ref().clone()) {
                    return Err(self.error(
                        &name.span(),
                        Duplicate,
                        format!("duplicate {kind} name {}", name.get_ref()),
                    ));
                }
            }
            Ok(seen)
        };
        let networks = names("network", s.networks.iter().map(|n| &n.name).collect())?;
        let caches = names("cache", s.caches.iter().map(|c| &c.name).collect())?;
        let endpoints = names(
            "private endpoint",
            s.private_endpoints.iter().map(|e| &e.name).collect(),
        )?;
        names(
            "network rule",
            s.network_rules.iter().map(|r| &r.name).collect(),
        )?;

        let network_ref = |r: &Spanned<String>, what: &str| -> Result<(), ScenarioError> {
            if networks.contains(r.get_ref()) {
                Ok(())
            } else {
                Err(self.error(
                    &r.span(),
                    UnknownReference,
                    format!(
                        "{what} names network {}, which the scenario does not declare",
                        r.get_ref()
                    ),
                ))
            }
        };

        // Addresses the world owns: in 127/8, not the host's 127.0.0.1, each used once.
        let mut owned: HashMap<Ipv4Addr, String> = HashMap::new();
        let mut own = |addr: &Spanned<Ipv4Addr>, what: String| -> Result<(), ScenarioError> {
            let a = *addr.get_ref();
            check_loopback(self, addr, &what)?;
            if a == Ipv4Addr::LOCALHOST {
                return Err(self.error(
                    &addr.span(),
                    Address,
                    format!("{what} cannot be 127.0.0.1: that is the host, outside every network"),
                ));
            }
            if let Some(other) = owned.insert(a, what.clone()) {
                return Err(self.error(
                    &addr.span(),
                    Duplicate,
                    format!("{what} {a} is already {other}"),
                ));
            }
            Ok(())
        };

        for n in &s.networks {
            let name = n.name.get_ref();
            if let Some(a) = &n.resolver_address {
                own(a, format!("the resolver address of network {name}"))?;
            }
            if let Some(a) = &n.client_address {
                own(a, format!("the client address of network {name}"))?;
            }
            for p in &n.peered_with {
                network_ref(p, &format!("network {name}'s peered_with"))?;
                if p.get_ref() == name {
                    return Err(self.error(
                        &p.span(),
                        Invalid,
                        format!("network {name} cannot be peered with itself"),
                    ));
                }
            }
            if let Some(f) = &n.dns_forwarder {
                if let Some(to) = &f.forwards_to {
                    network_ref(to, &format!("the DNS forwarder of network {name}"))?;
                }
                for (host, addr) in &f.answers {
                    check_dns_name(self, host, "forwarder answer name")?;
                    check_loopback(
                        self,
                        addr,
                        &format!("the forwarder answer for {}", host.get_ref()),
                    )?;
                }
            }
        }

        for c in &s.caches {
            let name = c.name.get_ref();
            if let Some(a) = &c.public_address {
                own(a, format!("the public address of cache {name}"))?;
            }
            match (c.flavour, &c.region) {
                (Flavour::ManagedRedis, None) => {
                    return Err(self.error(&c.name.span(), Invalid, format!("cache {name} is managed-redis and needs a region (its host name is NAME.REGION.redis.azure.net)")));
                }
                (Flavour::ManagedRedis, Some(region)) => check_label(self, region, "region")?,
                (Flavour::RedisCache, Some(region)) => {
                    return Err(self.error(&region.span(), Invalid, format!("cache {name} is redis-cache, whose host names have no region (only managed-redis has one)")));
                }
                (Flavour::RedisCache, None) => {}
            }
            if !c.tls && !c.non_tls_port {
                return Err(self.error(
                    &c.name.span(),
                    Invalid,
                    format!("cache {name} serves no port: set tls = true or non_tls_port = true"),
                ));
            }
            if c.flavour == Flavour::ManagedRedis
                && c.tls
                && c.non_tls_port
                && c.port.is_none()
                && c.tls_port.is_none()
            {
                return Err(self.error(&c.name.span(), Invalid, format!("cache {name} is managed-redis, which serves one port (10000): choose tls or non_tls_port, or give port and tls_port")));
            }
            if c.tls && c.non_tls_port {
                let (plain, tls) = (
                    c.port.unwrap_or(c.flavour.default_port()),
                    c.tls_port.unwrap_or(c.flavour.default_tls_port()),
                );
                if plain == tls {
                    return Err(self.error(
                        &c.name.span(),
                        Invalid,
                        format!("cache {name} uses port {plain} for both TLS and plain text"),
                    ));
                }
            }
            let mut user_names = HashSet::new();
            for u in &c.user {
                let uname = u.name.get_ref();
                if uname.is_empty() || uname.contains([' ', '\0']) {
                    return Err(self.error(
                        &u.name.span(),
                        Invalid,
                        format!(
                            "cache {name}: user name {uname:?} must be non-empty, without spaces"
                        ),
                    ));
                }
                if !user_names.insert(uname.clone()) {
                    return Err(self.error(
                        &u.name.span(),
                        Duplicate,
                        format!("duplicate user {uname} in cache {name}"),
                    ));
                }
                if let Some(rules) = &u.rules {
                    for rule in rules.get_ref().split_whitespace() {
                        check_acl_rule(rule).map_err(|m| {
                            self.error(
                                &rules.span(),
                                Invalid,
                                format!("cache {name}: user {uname}: {m}"),
                            )
                        })?;
                    }
                }
            }
            let mut rule_names = HashSet::new();
            for r in &c.firewall_rules {
                check_name(self, "firewall rule", &r.name)?;
                if !rule_names.insert(r.name.get_ref().clone()) {
                    return Err(self.error(
                        &r.name.span(),
                        Duplicate,
                        format!(
                            "duplicate firewall rule name {} in cache {name}",
                            r.name.get_ref()
                        ),
                    ));
                }
                if r.start.get_ref() > r.end.get_ref() {
                    return Err(self.error(
                        &r.end.span(),
                        Invalid,
                        format!(
                            "firewall rule {} ends ({}) before it starts ({})",
                            r.name.get_ref(),
                            r.end.get_ref(),
                            r.start.get_ref()
                        ),
                    ));
                }
            }
        }

        for e in &s.private_endpoints {
            let name = e.name.get_ref();
            network_ref(&e.network, &format!("private endpoint {name}"))?;
            let Some(cache) = s
                .caches
                .iter()
                .find(|c| c.name.get_ref() == e.cache.get_ref())
            else {
                return Err(self.error(&e.cache.span(), UnknownReference, format!("private endpoint {name} names cache {}, which the scenario does not declare", e.cache.get_ref())));
            };
            if let Some(g) = &e.group_id
                && g.get_ref() != cache.flavour.group_id()
            {
                return Err(self.error(&g.span(), Invalid, format!("private endpoint {name}: group id {} does not exist on cache {} ({} caches offer {})", g.get_ref(), cache.name.get_ref(), cache.flavour, cache.flavour.group_id())));
            }
            if let Some(a) = &e.address {
                own(a, format!("the address of private endpoint {name}"))?;
            }
        }

        let mut zone_names = HashSet::new();
        for z in &s.dns_zones {
            check_dns_name(self, &z.name, "zone name")?;
            let zone = normalize_name(z.name.get_ref());
            if !zone_names.insert(zone.clone()) {
                return Err(self.error(&z.name.span(), Duplicate, format!("duplicate zone name {zone}: Azure allows one zone of a name per network, and a scenario declares each zone once")));
            }
            for r in &z.records {
                relative_record_name(self, &zone, &r.name)?;
                check_loopback(
                    self,
                    &r.address,
                    &format!("record {} of zone {zone}", r.name.get_ref()),
                )?;
            }
            let mut link_names = HashSet::new();
            let mut linked = HashSet::new();
            for l in &z.links {
                network_ref(&l.network, &format!("a link of zone {zone}"))?;
                let link_name = l.name.as_ref().map_or_else(
                    || default_link_name(l.network.get_ref()),
                    |n| n.get_ref().clone(),
                );
                if let Some(n) = &l.name {
                    check_name(self, "link", n)?;
                }
                let span = l
                    .name
                    .as_ref()
                    .map_or_else(|| l.network.span(), Spanned::span);
                if !link_names.insert(link_name.clone()) {
                    return Err(self.error(
                        &span,
                        Duplicate,
                        format!("duplicate link name {link_name} in zone {zone}"),
                    ));
                }
                if !linked.insert(l.network.get_ref().clone()) {
                    return Err(self.error(
                        &l.network.span(),
                        Duplicate,
                        format!(
                            "zone {zone} is linked to network {} twice",
                            l.network.get_ref()
                        ),
                    ));
                }
            }
        }

        for r in &s.network_rules {
            let name = r.name.get_ref();
            let priority = *r.priority.get_ref();
            if !(100..=4096).contains(&priority) {
                return Err(self.error(
                    &r.priority.span(),
                    Invalid,
                    format!("network rule {name}: priority {priority} is outside 100–4096"),
                ));
            }
            if let Some(src) = &r.source {
                network_ref(src, &format!("network rule {name}"))?;
            }
            if let Some(dst) = &r.destination {
                let d = dst.get_ref();
                match (endpoints.contains(d), caches.contains(d)) {
                    (true, true) => {
                        return Err(self.error(&dst.span(), Invalid, format!("network rule {name}: destination {d} names both a private endpoint and a cache; rename one")));
                    }
                    (false, false) => {
                        return Err(self.error(&dst.span(), UnknownReference, format!("network rule {name}: destination {d} is neither a private endpoint nor a cache of the scenario")));
                    }
                    _ => {}
                }
            }
            if let (Some(deny_as), Some(src)) = (&r.deny_as, &r.source)
                && *deny_as.get_ref() == DenyAs::Refuse
            {
                return Err(self.error(&deny_as.span(), Invalid, format!("network rule {name}: deny_as = \"refuse\" for source {} only is not possible: a refusal (RST) cannot be limited to some sources without privileges; use drop (what an NSG deny does) or reset", src.get_ref())));
            }
        }

        let mut toxic_names = HashSet::new();
        for t in &s.toxics {
            let name = t.name.get_ref();
            check_name(self, "toxic", &t.name)?;
            if !toxic_names.insert(name.clone()) {
                return Err(self.error(
                    &t.name.span(),
                    Duplicate,
                    format!("duplicate toxic name {name}"),
                ));
            }
            if let Some(n) = &t.network {
                network_ref(n, &format!("toxic {name}"))?;
            }
            if let Some(e) = &t.endpoint
                && !endpoints.contains(e.get_ref())
                && !caches.contains(e.get_ref())
            {
                return Err(self.error(&e.span(), UnknownReference, format!("toxic {name}: endpoint {} is neither a private endpoint nor a cache of the scenario", e.get_ref())));
            }
            let kind = t
                .toxic_kind()
                .map_err(|m| self.error(&t.kind.span(), Invalid, m))?;
            let toxic = crate::toxic::Toxic {
                name: name.clone(),
                endpoint: None,
                network: None,
                kind,
                direction: t.direction,
            };
            toxic
                .check()
                .map_err(|m| self.error(&t.kind.span(), Invalid, m))?;
        }

        // Expectations and steps are checked by `crate::timeline::compile` on the built world.
        Ok(())
    }
}

/// The record name relative to `zone` ("@" for the apex), or an error pointing at it.
pub(crate) fn relative_record_name(
    s: &Scenario,
    zone: &str,
    name: &Spanned<String>,
) -> Result<String, ScenarioError> {
    let raw = name.get_ref();
    names::relative_record_name(zone, raw).map_err(|e| {
        let message = match e {
            RecordNameError::NotInZone => format!("record {raw} is not in zone {zone}"),
            RecordNameError::Invalid => format!("record name {raw} is not a valid DNS name"),
        };
        s.error(&name.span(), ScenarioErrorKind::Invalid, message)
    })
}

fn check_name(s: &Scenario, kind: &str, name: &Spanned<String>) -> Result<(), ScenarioError> {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 80
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(s.error(
            &name.span(),
            ScenarioErrorKind::Invalid,
            format!("{kind} name {n:?} must be 1–80 letters, digits, '-', '_' or '.'"),
        ));
    }
    if kind == "cache" {
        check_label(s, name, "cache name")?;
    }
    Ok(())
}

fn check_label(s: &Scenario, value: &Spanned<String>, what: &str) -> Result<(), ScenarioError> {
    let v = value.get_ref();
    if !is_host_label(v) {
        return Err(s.error(&value.span(), ScenarioErrorKind::Invalid, format!("{what} {v:?} must be a host name label: 1–63 lowercase letters, digits and '-', not starting or ending with '-'")));
    }
    Ok(())
}

fn check_dns_name(s: &Scenario, value: &Spanned<String>, what: &str) -> Result<(), ScenarioError> {
    if is_dns_name(&normalize_name(value.get_ref())) {
        Ok(())
    } else {
        Err(s.error(
            &value.span(),
            ScenarioErrorKind::Invalid,
            format!("{what} {:?} is not a valid DNS name", value.get_ref()),
        ))
    }
}

fn check_loopback(s: &Scenario, addr: &Spanned<Ipv4Addr>, what: &str) -> Result<(), ScenarioError> {
    let a = *addr.get_ref();
    if is_loopback(a) {
        Ok(())
    } else {
        Err(s.error(&addr.span(), ScenarioErrorKind::Address, format!("{what}: address {a} is outside 127.0.0.0/8; every simulated address is a loopback alias, so traffic never leaves the machine")))
    }
}
