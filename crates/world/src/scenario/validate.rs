//! Validation of a scenario file's tables, one function per table, in file-format order: names
//! first (each kind's duplicates), then networks, caches (their users and firewall rules), private
//! endpoints, DNS zones (records, links), network rules and toxics. The first mistake found is the
//! error, pointing at its `file:line:column`. Expectations and steps are checked afterwards by
//! [`crate::timeline::compile`] on the world built from the file.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use toml::Spanned;

use super::file::{
    CacheSpec, DnsZoneSpec, ForwarderSpec, HostSpec, NetworkRuleSpec, NetworkSpec,
    PrivateEndpointSpec, ScenarioFile, UserSpec,
};
use crate::address::is_loopback;
use crate::cluster_ports::{ClusterPolicy, MANAGED_OSS_PORT_RANGE, PREMIUM_MAX_SHARDS};
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::flavour::Flavour;
use crate::model::{DenyAs, FORWARD_TO_INTERNET, ResolutionPolicy};
use crate::names::{
    self, RecordNameError, default_link_name, is_dns_name, is_host_label, normalize_name,
};
use crate::nodes::{Nodes, Sku};
use crate::persistence::{AofFsync, Persistence, RdbFrequency};
use crate::text::ScenarioText;
use crate::toxic::{Toxic, ToxicSpec};
use redlink_engine::acl::CATEGORIES;

use ScenarioErrorKind::{Address, Duplicate, Invalid, UnknownReference};

/// Checks every table of `file` (see the module documentation for the order).
pub(crate) fn validate(src: &ScenarioText, file: &ScenarioFile) -> Result<(), ScenarioError> {
    let declared = Declared::of(src, file)?;
    let mut owned = OwnedAddresses::default();
    for n in &file.networks {
        network(src, &declared, &mut owned, n)?;
    }
    if let Some(h) = &file.host {
        host(src, &declared, h)?;
    }
    for c in &file.caches {
        cache(src, &mut owned, c)?;
    }
    for e in &file.private_endpoints {
        private_endpoint(src, file, &declared, &mut owned, e)?;
    }
    let mut zone_names = HashSet::new();
    for z in &file.dns_zones {
        dns_zone(src, &declared, &mut zone_names, z)?;
        redirect_links(src, z)?;
    }
    same_name_zones(src, file)?;
    for r in &file.network_rules {
        network_rule(src, &declared, r)?;
    }
    let mut toxic_names = HashSet::new();
    for t in &file.toxics {
        toxic(src, &declared, &mut toxic_names, t)?;
    }
    Ok(())
}

/// The names each kind of table declares, checked for syntax and duplicates.
struct Declared {
    networks: HashSet<String>,
    caches: HashSet<String>,
    endpoints: HashSet<String>,
}

impl Declared {
    fn of(src: &ScenarioText, file: &ScenarioFile) -> Result<Declared, ScenarioError> {
        let networks = unique_names(src, "network", file.networks.iter().map(|n| &n.name))?;
        let caches = unique_names(src, "cache", file.caches.iter().map(|c| &c.name))?;
        let endpoints = unique_names(
            src,
            "private endpoint",
            file.private_endpoints.iter().map(|e| &e.name),
        )?;
        unique_names(
            src,
            "network rule",
            file.network_rules.iter().map(|r| &r.name),
        )?;
        Ok(Declared {
            networks,
            caches,
            endpoints,
        })
    }

    /// `r` must name a declared private endpoint; `what` says who names it.
    fn endpoint(
        &self,
        src: &ScenarioText,
        r: &Spanned<String>,
        what: &str,
    ) -> Result<(), ScenarioError> {
        if self.endpoints.contains(r.get_ref()) {
            return Ok(());
        }
        Err(src.error(
            &r.span(),
            UnknownReference,
            format!(
                "{what} names private endpoint {}, which the scenario does not declare",
                r.get_ref()
            ),
        ))
    }

    /// `r` must name a declared network; `what` says who names it.
    fn network(
        &self,
        src: &ScenarioText,
        r: &Spanned<String>,
        what: &str,
    ) -> Result<(), ScenarioError> {
        if self.networks.contains(r.get_ref()) {
            return Ok(());
        }
        Err(src.error(
            &r.span(),
            UnknownReference,
            format!(
                "{what} names network {}, which the scenario does not declare",
                r.get_ref()
            ),
        ))
    }
}

/// Each name valid for its `kind` and used once.
fn unique_names<'a>(
    src: &ScenarioText,
    kind: &'static str,
    items: impl Iterator<Item = &'a Spanned<String>>,
) -> Result<HashSet<String>, ScenarioError> {
    let mut seen = HashSet::new();
    for name in items {
        check_name(src, kind, name)?;
        if !seen.insert(name.get_ref().clone()) {
            return Err(src.error(
                &name.span(),
                Duplicate,
                format!("duplicate {kind} name {}", name.get_ref()),
            ));
        }
    }
    Ok(seen)
}

/// The addresses the world owns: in 127/8, not the host's 127.0.0.1, each used once.
#[derive(Default)]
struct OwnedAddresses(HashMap<Ipv4Addr, String>);

impl OwnedAddresses {
    fn claim(
        &mut self,
        src: &ScenarioText,
        addr: &Spanned<Ipv4Addr>,
        what: String,
    ) -> Result<(), ScenarioError> {
        let a = *addr.get_ref();
        check_loopback(src, addr, &what)?;
        if a == Ipv4Addr::LOCALHOST {
            return Err(src.error(
                &addr.span(),
                Address,
                format!("{what} cannot be 127.0.0.1: that is the host (the terminal outside `redlink exec`)"),
            ));
        }
        if let Some(other) = self.0.insert(a, what.clone()) {
            return Err(src.error(
                &addr.span(),
                Duplicate,
                format!("{what} {a} is already {other}"),
            ));
        }
        Ok(())
    }
}

/// A `[[network]]` table: pinned addresses, peerings, its DNS forwarder.
fn network(
    src: &ScenarioText,
    declared: &Declared,
    owned: &mut OwnedAddresses,
    n: &NetworkSpec,
) -> Result<(), ScenarioError> {
    let name = n.name.get_ref();
    if let Some(a) = &n.resolver_address {
        owned.claim(src, a, format!("the resolver address of network {name}"))?;
    }
    if let Some(a) = &n.client_address {
        owned.claim(src, a, format!("the client address of network {name}"))?;
    }
    for p in &n.peered_with {
        declared.network(src, p, &format!("network {name}'s peered_with"))?;
        if p.get_ref() == name {
            return Err(src.error(
                &p.span(),
                Invalid,
                format!("network {name} cannot be peered with itself"),
            ));
        }
    }
    for p in &n.initiated_peerings {
        declared.network(src, p, &format!("network {name}'s initiated_peerings"))?;
        if p.get_ref() == name {
            return Err(src.error(
                &p.span(),
                Invalid,
                format!("network {name} cannot be peered with itself"),
            ));
        }
        if n.peered_with.iter().any(|q| q.get_ref() == p.get_ref()) {
            return Err(src.error(
                &p.span(),
                Duplicate,
                format!(
                    "network {name} lists {} in both peered_with and initiated_peerings",
                    p.get_ref()
                ),
            ));
        }
    }
    if let Some(f) = &n.dns_forwarder {
        forwarder(src, declared, name, f)?;
    }
    Ok(())
}

/// `host`: `"internet"` or a declared network.
fn host(
    src: &ScenarioText,
    declared: &Declared,
    h: &Spanned<HostSpec>,
) -> Result<(), ScenarioError> {
    match h.get_ref() {
        HostSpec::Word(w) if w == "internet" => Ok(()),
        HostSpec::Word(w) => Err(src.error(
            &h.span(),
            Invalid,
            format!("host = {w:?}: the host is \"internet\" or {{ network = \"NAME\" }} (a jump box in that network)"),
        )),
        HostSpec::Network { network } if declared.networks.contains(network) => Ok(()),
        HostSpec::Network { network } => Err(src.error(
            &h.span(),
            UnknownReference,
            format!("host names network {network}, which the scenario does not declare"),
        )),
    }
}

/// A `[network.dns_forwarder]` table of network `network`.
fn forwarder(
    src: &ScenarioText,
    declared: &Declared,
    network: &str,
    f: &ForwarderSpec,
) -> Result<(), ScenarioError> {
    if let Some(to) = &f.forwards_to {
        declared.network(src, to, &format!("the DNS forwarder of network {network}"))?;
    }
    let mut zones = HashSet::new();
    for rule in &f.forward {
        let zone = rule.zone.get_ref();
        if zone != "." {
            check_dns_name(src, &rule.zone, "conditional forwarding zone")?;
        }
        if !zones.insert(normalize_name(zone)) {
            return Err(src.error(
                &rule.zone.span(),
                Duplicate,
                format!("the DNS forwarder of network {network} forwards zone {zone} twice"),
            ));
        }
        if rule.to.get_ref() != FORWARD_TO_INTERNET {
            declared.network(
                src,
                &rule.to,
                &format!(
                    "the conditional forwarding rule for {zone} of network {network} (a network, or \"{FORWARD_TO_INTERNET}\")"
                ),
            )?;
        }
    }
    for (host, addr) in &f.answers {
        check_dns_name(src, host, "forwarder answer name")?;
        check_loopback(
            src,
            addr,
            &format!("the forwarder answer for {}", host.get_ref()),
        )?;
    }
    Ok(())
}

/// A `[[cache]]` table: its public address, region, ports, users and firewall rules.
fn cache(
    src: &ScenarioText,
    owned: &mut OwnedAddresses,
    c: &CacheSpec,
) -> Result<(), ScenarioError> {
    let name = c.name.get_ref();
    if let Some(a) = &c.public_address {
        owned.claim(src, a, format!("the public address of cache {name}"))?;
    }
    cache_region(src, c)?;
    cache_ports(src, c)?;
    cache_persistence(src, c)?;
    cache_backend(src, c)?;
    cache_nodes(src, c)?;
    cache_cluster(src, c)?;
    let mut user_names = HashSet::new();
    for u in &c.user {
        user(src, name, &mut user_names, u)?;
    }
    firewall_rules(src, c)
}

/// A cache's tier and nodes: `sku` (Azure Cache for Redis) or `high_availability` (Azure Managed
/// Redis, on by default without a `backend`), and `replication`, which needs a replica.
pub(crate) fn cache_nodes(
    src: &ScenarioText,
    c: &CacheSpec,
) -> Result<(Sku, Nodes), ScenarioError> {
    let name = c.name.get_ref();
    let sku = match (&c.sku, c.flavour) {
        (None, _) => Sku::Basic,
        (Some(s), Flavour::RedisCache) => Sku::parse(s.get_ref())
            .map_err(|e| src.error(&s.span(), Invalid, format!("cache {name}: {e}")))?,
        (Some(s), Flavour::ManagedRedis) => {
            return Err(src.error(
                &s.span(),
                Invalid,
                format!(
                    "cache {name}: sku names an Azure Cache for Redis tier; an Azure Managed Redis cache has a replica unless high_availability = false"
                ),
            ));
        }
    };
    if let (Some(shards), Sku::Standard) = (&c.shards, sku) {
        return Err(src.error(
            &shards.span(),
            Invalid,
            format!(
                "cache {name}: clustering (shards) is available for Premium caches only; use sku = \"Premium\" (a replica per shard) or leave sku out (primaries only)"
            ),
        ));
    }
    if let (Some(_), Flavour::ManagedRedis, Some(h)) = (&c.shards, c.flavour, &c.high_availability)
        && *h.get_ref()
    {
        return Err(src.error(
            &h.span(),
            Invalid,
            format!(
                "cache {name}: replicas of a clustered Azure Managed Redis cache are not simulated (Azure documents no ports for them); leave high_availability out"
            ),
        ));
    }
    let nodes = match (c.flavour, &c.high_availability) {
        // A clustered cache gets a replica per shard when asked: sku = "Premium" (redis-cache) or
        // high_availability = true (managed-redis); without, one engine per shard as before.
        (Flavour::ManagedRedis, None) if c.shards.is_some() => Nodes::single(),
        (Flavour::RedisCache, Some(h)) => {
            return Err(src.error(
                &h.span(),
                Invalid,
                format!(
                    "cache {name}: high_availability is Azure Managed Redis's setting; an Azure Cache for Redis cache gets its replica from sku = \"Standard\" or \"Premium\""
                ),
            ));
        }
        (Flavour::RedisCache, None) if sku == Sku::Basic => Nodes::single(),
        (Flavour::RedisCache, None) => Nodes::replicated(),
        (Flavour::ManagedRedis, Some(h)) if *h.get_ref() => Nodes::replicated(),
        (Flavour::ManagedRedis, Some(_)) => Nodes::single(),
        // A backend is one real server: no simulated replica unless asked (refused below).
        (Flavour::ManagedRedis, None) if c.backend.is_some() => Nodes::single(),
        (Flavour::ManagedRedis, None) => Nodes::replicated(),
    };
    if nodes.has_replica()
        && let Some(b) = &c.backend
    {
        return Err(src.error(
            &b.span(),
            Invalid,
            format!(
                "cache {name}: a cache with a backend is that one server; it cannot have a simulated replica (use sku = \"Basic\" or high_availability = false)"
            ),
        ));
    }
    if let Some(r) = &c.replication
        && !nodes.has_replica()
    {
        return Err(src.error(
            &r.span(),
            Invalid,
            format!(
                "cache {name}: replication needs a replica, and the cache is a single node (sku = \"Standard\" or \"Premium\", or high_availability for managed-redis)"
            ),
        ));
    }
    Ok((sku, nodes))
}

/// `persistence = { rdb = FREQUENCY }` or `{ aof = POLICY }`: exactly one kind, a value Azure offers.
pub(crate) fn cache_persistence(
    src: &ScenarioText,
    c: &CacheSpec,
) -> Result<Option<Persistence>, ScenarioError> {
    let Some(p) = &c.persistence else {
        return Ok(None);
    };
    let name = c.name.get_ref();
    match (&p.get_ref().rdb, &p.get_ref().aof) {
        (Some(rdb), None) => RdbFrequency::parse(rdb.get_ref())
            .map(|f| Some(Persistence::Rdb(f)))
            .map_err(|e| src.error(&rdb.span(), Invalid, format!("cache {name}: {e}"))),
        (None, Some(aof)) => AofFsync::parse(aof.get_ref())
            .map(|p| Some(Persistence::Aof(p)))
            .map_err(|e| src.error(&aof.span(), Invalid, format!("cache {name}: {e}"))),
        _ => Err(src.error(
            &p.span(),
            Invalid,
            format!(
                "cache {name}: persistence takes exactly one of rdb and aof (e.g. {{ rdb = \"15m\" }})"
            ),
        )),
    }
}

/// A cache's `backend`: exactly one of `address` (a loopback `HOST:PORT`), `command` (a
/// non-empty program) and `cluster` (a non-empty list of loopback `HOST:PORT` seeds); `socket`
/// only with `address` and without `tls`.
fn cache_backend(src: &ScenarioText, c: &CacheSpec) -> Result<(), ScenarioError> {
    let Some(spec) = &c.backend else {
        return Ok(());
    };
    let name = c.name.get_ref();
    let b = spec.get_ref();
    let given = [
        b.address.is_some().then_some("address"),
        b.command.is_some().then_some("command"),
        b.cluster.is_some().then_some("cluster"),
    ];
    let given: Vec<&str> = given.into_iter().flatten().collect();
    if given.len() > 1 {
        return Err(src.error(
            &spec.span(),
            Invalid,
            format!(
                "cache {name}: backend has both {}; give one",
                given.join(" and ")
            ),
        ));
    }
    if let Some(socket) = &b.socket {
        let why = if b.address.is_none() {
            Some(
                "names a Unix socket of the server at `address`: give address = \"127.0.0.1:PORT\" too (a started backend gets its own socket)",
            )
        } else if b.tls {
            Some("is plain: it cannot carry tls = true")
        } else if socket.get_ref().trim().is_empty() {
            Some("is empty")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(src.error(
                &socket.span(),
                Invalid,
                format!("cache {name}: backend socket {why}"),
            ));
        }
    }
    let loopback_address = |raw: &str, span: std::ops::Range<usize>, what: &str| {
        let addr: std::net::SocketAddr = raw.parse().map_err(|_| {
            src.error(
                &span,
                Address,
                format!("cache {name}: {what} {raw:?} is not IP:PORT (e.g. 127.0.0.1:6379)"),
            )
        })?;
        if !crate::backend::is_loopback_backend(&addr) {
            return Err(src.error(
                &span,
                Address,
                format!("cache {name}: {what} {addr} is not a loopback address (127.0.0.0/8 or ::1); redlink sends traffic only to this machine"),
            ));
        }
        if addr.port() == 0 {
            return Err(src.error(
                &span,
                Address,
                format!("cache {name}: {what} {addr} needs a port"),
            ));
        }
        Ok(())
    };
    match (&b.address, &b.command, &b.cluster) {
        (Some(a), None, None) => loopback_address(a.get_ref(), a.span(), "backend address")?,
        (None, Some(cmd), None) => {
            if cmd.get_ref().first().is_none_or(|p| p.trim().is_empty()) {
                return Err(src.error(
                    &cmd.span(),
                    Invalid,
                    format!("cache {name}: backend command is empty: give the program first, e.g. [\"redis-server\", \"--save\", \"\"]"),
                ));
            }
        }
        (None, None, Some(seeds)) => {
            if seeds.get_ref().is_empty() {
                return Err(src.error(
                    &seeds.span(),
                    Invalid,
                    format!("cache {name}: backend cluster is empty: give at least one seed node, e.g. [\"127.0.0.1:7000\"]"),
                ));
            }
            for seed in seeds.get_ref() {
                loopback_address(seed, seeds.span(), "backend cluster seed")?;
            }
        }
        _ => {
            return Err(src.error(
                &spec.span(),
                Invalid,
                format!("cache {name}: backend needs address = \"127.0.0.1:PORT\", command = [\"redis-server\", ...] or cluster = [\"127.0.0.1:7000\", ...]"),
            ));
        }
    }
    for (key, value) in [("ca_file", &b.ca_file), ("server_name", &b.server_name)] {
        if let Some(v) = value {
            if !b.tls {
                return Err(src.error(
                    &v.span(),
                    Invalid,
                    format!(
                        "cache {name}: backend {key} applies to TLS to the backend: add tls = true"
                    ),
                ));
            }
            if v.get_ref().trim().is_empty() {
                return Err(src.error(
                    &v.span(),
                    Invalid,
                    format!("cache {name}: backend {key} is empty"),
                ));
            }
        }
    }
    if let Some(var) = &b.password_env
        && (var.get_ref().is_empty() || var.get_ref().contains('='))
    {
        return Err(src.error(
            &var.span(),
            Invalid,
            format!(
                "cache {name}: password_env {:?} is not an environment variable name",
                var.get_ref()
            ),
        ));
    }
    Ok(())
}

/// Managed Redis host names carry a region; Azure Cache for Redis ones do not.
fn cache_region(src: &ScenarioText, c: &CacheSpec) -> Result<(), ScenarioError> {
    let name = c.name.get_ref();
    match (c.flavour, &c.region) {
        (Flavour::ManagedRedis, None) => Err(src.error(
            &c.name.span(),
            Invalid,
            format!(
                "cache {name} is managed-redis and needs a region (its host name is NAME.REGION.redis.azure.net)"
            ),
        )),
        (Flavour::ManagedRedis, Some(region)) => check_label(src, region, "region"),
        (Flavour::RedisCache, Some(region)) => Err(src.error(
            &region.span(),
            Invalid,
            format!(
                "cache {name} is redis-cache, whose host names have no region (only managed-redis has one)"
            ),
        )),
        (Flavour::RedisCache, None) => Ok(()),
    }
}

/// At least one port served, one port per protocol.
fn cache_ports(src: &ScenarioText, c: &CacheSpec) -> Result<(), ScenarioError> {
    let name = c.name.get_ref();
    if c.flavour == Flavour::RedisCache && !c.tls {
        return Err(src.error(
            &c.name.span(),
            Invalid,
            format!(
                "cache {name}: tls = false is not possible: an Azure Cache for Redis cache always serves TLS on {}; only the non-TLS port {} is optional (non_tls_port)",
                c.flavour.default_tls_port(),
                c.flavour.default_port()
            ),
        ));
    }
    if !c.tls && !c.non_tls_port {
        return Err(src.error(
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
        return Err(src.error(
            &c.name.span(),
            Invalid,
            format!(
                "cache {name} is managed-redis, which serves one port (10000): choose tls or non_tls_port, or give port and tls_port"
            ),
        ));
    }
    if c.tls && c.non_tls_port {
        let (plain, tls) = (
            c.port.unwrap_or(c.flavour.default_port()),
            c.tls_port.unwrap_or(c.flavour.default_tls_port()),
        );
        if plain == tls {
            return Err(src.error(
                &c.name.span(),
                Invalid,
                format!("cache {name} uses port {plain} for both TLS and plain text"),
            ));
        }
    }
    Ok(())
}

/// A cache's clustering: `shards` in Azure's range for its flavour, `cluster_policy` only on
/// managed-redis, `cluster_announce` only on a cache whose clients follow the cluster, a loopback.
fn cache_cluster(src: &ScenarioText, c: &CacheSpec) -> Result<(), ScenarioError> {
    let name = c.name.get_ref();
    let policy = c.cluster_policy.as_ref().map(|p| *p.get_ref());
    if let Some(p) = &c.cluster_policy
        && c.flavour == Flavour::RedisCache
    {
        return Err(src.error(
            &p.span(),
            Invalid,
            format!(
                "cache {name}: cluster_policy is a managed-redis setting (a Premium redis-cache cluster always speaks the OSS Cluster API; give shards = N)"
            ),
        ));
    }
    if let Some(shards) = &c.shards {
        let n = *shards.get_ref();
        let (max, why) = match c.flavour {
            Flavour::RedisCache => (
                PREMIUM_MAX_SHARDS,
                "a Premium cache has 1 to 30 shards (Azure: 10 generally available, up to 30 in preview)",
            ),
            Flavour::ManagedRedis => (
                MANAGED_OSS_PORT_RANGE,
                "a managed-redis cache with the OSS policy has 1 to 100 nodes (one per port 8500-8599)",
            ),
        };
        if n == 0 || n > max {
            return Err(src.error(
                &shards.span(),
                Invalid,
                format!("cache {name}: shards = {n} is out of range: {why}"),
            ));
        }
        if c.flavour == Flavour::ManagedRedis && policy != Some(ClusterPolicy::Oss) {
            return Err(src.error(
                &shards.span(),
                Invalid,
                format!(
                    "cache {name}: shards with the Enterprise cluster policy are not simulated (Azure's proxy hides them behind port 10000 and answers CROSSSLOT for multi-key commands other than DEL, MSET, MGET, EXISTS, UNLINK and TOUCH; redlink runs an Enterprise-policy cache as one node); give cluster_policy = \"OSS\" to see the shards"
                ),
            ));
        }
        if let Some(b) = &c.backend {
            return Err(src.error(
                &b.span(),
                Invalid,
                format!(
                    "cache {name}: shards and backend together: a cache with a backend is the backend's topology (backend = {{ cluster = [...] }} for a cluster)"
                ),
            ));
        }
        if let Some(p) = &c.persistence {
            return Err(src.error(
                &p.span(),
                Invalid,
                format!(
                    "cache {name}: persistence on a clustered cache is not simulated yet (each shard would need its own data); drop persistence or shards"
                ),
            ));
        }
    }
    let cluster_backend = c
        .backend
        .as_ref()
        .is_some_and(|b| b.get_ref().cluster.is_some());
    let clustered = cluster_backend
        || match c.flavour {
            Flavour::RedisCache => c.shards.is_some(),
            Flavour::ManagedRedis => policy == Some(ClusterPolicy::Oss),
        };
    if c.flavour == Flavour::ManagedRedis && clustered && c.tls && c.non_tls_port {
        return Err(src.error(
            &c.name.span(),
            Invalid,
            format!(
                "cache {name}: with the OSS cluster policy each node has one port (85xx) in one protocol: choose tls or non_tls_port"
            ),
        ));
    }
    if let Some(a) = &c.cluster_announce {
        if !clustered {
            return Err(src.error(
                &a.span(),
                Invalid,
                format!(
                    "cache {name}: cluster_announce needs a cache whose clients follow the cluster (shards = N on redis-cache, cluster_policy = \"OSS\" on managed-redis, or backend = {{ cluster = [...] }})"
                ),
            ));
        }
        check_loopback(src, a, &format!("cache {name}: cluster_announce"))?;
    }
    Ok(())
}

/// A `[[cache.user]]` table of cache `cache`: a unique name and well-formed ACL rules.
fn user(
    src: &ScenarioText,
    cache: &str,
    seen: &mut HashSet<String>,
    u: &UserSpec,
) -> Result<(), ScenarioError> {
    let uname = u.name.get_ref();
    if uname.is_empty() || uname.contains([' ', '\0']) {
        return Err(src.error(
            &u.name.span(),
            Invalid,
            format!("cache {cache}: user name {uname:?} must be non-empty, without spaces"),
        ));
    }
    if !seen.insert(uname.clone()) {
        return Err(src.error(
            &u.name.span(),
            Duplicate,
            format!("duplicate user {uname} in cache {cache}"),
        ));
    }
    if let Some(rules) = &u.rules {
        for rule in rules.get_ref().split_whitespace() {
            check_acl_rule(rule).map_err(|m| {
                src.error(
                    &rules.span(),
                    Invalid,
                    format!("cache {cache}: user {uname}: {m}"),
                )
            })?;
        }
    }
    Ok(())
}

/// A cache's `firewall_rules`: unique names, ranges that do not end before they start.
fn firewall_rules(src: &ScenarioText, c: &CacheSpec) -> Result<(), ScenarioError> {
    let name = c.name.get_ref();
    let mut rule_names = HashSet::new();
    for r in &c.firewall_rules {
        check_name(src, "firewall rule", &r.name)?;
        if !rule_names.insert(r.name.get_ref().clone()) {
            return Err(src.error(
                &r.name.span(),
                Duplicate,
                format!(
                    "duplicate firewall rule name {} in cache {name}",
                    r.name.get_ref()
                ),
            ));
        }
        if r.start.get_ref() > r.end.get_ref() {
            return Err(src.error(
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
    Ok(())
}

/// A `[[private_endpoint]]` table: its network and cache exist, its group id fits the cache.
fn private_endpoint(
    src: &ScenarioText,
    file: &ScenarioFile,
    declared: &Declared,
    owned: &mut OwnedAddresses,
    e: &PrivateEndpointSpec,
) -> Result<(), ScenarioError> {
    let name = e.name.get_ref();
    declared.network(src, &e.network, &format!("private endpoint {name}"))?;
    let Some(cache) = file
        .caches
        .iter()
        .find(|c| c.name.get_ref() == e.cache.get_ref())
    else {
        return Err(src.error(
            &e.cache.span(),
            UnknownReference,
            format!(
                "private endpoint {name} names cache {}, which the scenario does not declare",
                e.cache.get_ref()
            ),
        ));
    };
    if let Some(g) = &e.group_id
        && g.get_ref() != cache.flavour.group_id()
    {
        return Err(src.error(
            &g.span(),
            Invalid,
            format!(
                "private endpoint {name}: group id {} does not exist on cache {} ({} caches offer {})",
                g.get_ref(),
                cache.name.get_ref(),
                cache.flavour,
                cache.flavour.group_id()
            ),
        ));
    }
    if let Some(a) = &e.address {
        owned.claim(src, a, format!("the address of private endpoint {name}"))?;
    }
    Ok(())
}

/// A `[[dns_zone]]` table: a unique valid name, records in the zone, links to declared networks.
fn dns_zone(
    src: &ScenarioText,
    declared: &Declared,
    zone_names: &mut HashSet<(String, Option<String>)>,
    z: &DnsZoneSpec,
) -> Result<(), ScenarioError> {
    check_dns_name(src, &z.name, "zone name")?;
    let zone = normalize_name(z.name.get_ref());
    let group = z.resource_group.as_ref().map(|g| g.get_ref().clone());
    if let Some(g) = &z.resource_group {
        check_name(src, "resource group", g)?;
    }
    if !zone_names.insert((zone.clone(), group.clone())) {
        return Err(src.error(
            &z.name.span(),
            Duplicate,
            match group {
                Some(g) => format!("duplicate zone {zone} in resource group {g}"),
                None => format!(
                    "duplicate zone name {zone}: a scenario declares each zone once (several zones of one name need a resource_group each)"
                ),
            },
        ));
    }
    for r in &z.records {
        relative_record_name(src, &zone, &r.name)?;
        let what = format!("record {} of zone {zone}", r.name.get_ref());
        match (&r.address, &r.endpoint) {
            (Some(a), None) => check_loopback(src, a, &what)?,
            (None, Some(e)) => declared.endpoint(src, e, &what)?,
            _ => {
                return Err(src.error(
                    &r.name.span(),
                    Invalid,
                    format!("{what} needs exactly one of `address` and `endpoint`"),
                ));
            }
        }
    }
    zone_links(src, declared, &zone, z)
}

/// Several zones of one name: each has a resource group, and a network links to one of them only
/// (Azure: a virtual network can be linked to one private zone of a given name).
fn same_name_zones(src: &ScenarioText, file: &ScenarioFile) -> Result<(), ScenarioError> {
    let mut linked: HashMap<(String, String), Option<String>> = HashMap::new();
    for z in &file.dns_zones {
        let zone = normalize_name(z.name.get_ref());
        let group = z.resource_group.as_ref().map(|g| g.get_ref().clone());
        let many = file
            .dns_zones
            .iter()
            .filter(|o| normalize_name(o.name.get_ref()) == zone)
            .count();
        if many > 1 && group.is_none() {
            return Err(src.error(
                &z.name.span(),
                Invalid,
                format!(
                    "{many} zones are named {zone}: give each a resource_group, so steps can name one as RESOURCE_GROUP/{zone}"
                ),
            ));
        }
        for l in &z.links {
            let key = (zone.clone(), l.network.get_ref().clone());
            if let Some(other) = linked.insert(key, group.clone()) {
                return Err(src.error(
                    &l.network.span(),
                    Duplicate,
                    format!(
                        "network {} is already linked to zone {zone} of resource group {}: a virtual network can be linked to one private zone of a given name",
                        l.network.get_ref(),
                        other.as_deref().unwrap_or("(none)")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A zone's `links`: declared networks, unique link names, one link per network.
fn zone_links(
    src: &ScenarioText,
    declared: &Declared,
    zone: &str,
    z: &DnsZoneSpec,
) -> Result<(), ScenarioError> {
    let mut link_names = HashSet::new();
    let mut linked = HashSet::new();
    for l in &z.links {
        declared.network(src, &l.network, &format!("a link of zone {zone}"))?;
        let link_name = l.name.as_ref().map_or_else(
            || default_link_name(l.network.get_ref()),
            |n| n.get_ref().clone(),
        );
        if let Some(n) = &l.name {
            check_name(src, "link", n)?;
        }
        let span = l
            .name
            .as_ref()
            .map_or_else(|| l.network.span(), Spanned::span);
        if !link_names.insert(link_name.clone()) {
            return Err(src.error(
                &span,
                Duplicate,
                format!("duplicate link name {link_name} in zone {zone}"),
            ));
        }
        if !linked.insert(l.network.get_ref().clone()) {
            return Err(src.error(
                &l.network.span(),
                Duplicate,
                format!(
                    "zone {zone} is linked to network {} twice",
                    l.network.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

/// `NxDomainRedirect` is only for links to `privatelink.*` zones (Azure: "only applicable for
/// virtual network links to privatelink zones").
fn redirect_links(src: &ScenarioText, z: &DnsZoneSpec) -> Result<(), ScenarioError> {
    let zone = normalize_name(z.name.get_ref());
    match z.links.iter().find(|l| {
        l.resolution_policy == ResolutionPolicy::NxDomainRedirect
            && !names::is_privatelink_zone(&zone)
    }) {
        Some(l) => Err(src.error(
            &l.network.span(),
            Invalid,
            names::nx_domain_redirect_error(&zone),
        )),
        None => Ok(()),
    }
}

/// A `[[network_rule]]` table: priority range, source and destination, a possible `deny_as`.
fn network_rule(
    src: &ScenarioText,
    declared: &Declared,
    r: &NetworkRuleSpec,
) -> Result<(), ScenarioError> {
    let name = r.name.get_ref();
    let priority = *r.priority.get_ref();
    if !(100..=4096).contains(&priority) {
        return Err(src.error(
            &r.priority.span(),
            Invalid,
            format!("network rule {name}: priority {priority} is outside 100–4096"),
        ));
    }
    if let Some(s) = &r.source {
        declared.network(src, s, &format!("network rule {name}"))?;
    }
    if let Some(dst) = &r.destination {
        let d = dst.get_ref();
        match (declared.endpoints.contains(d), declared.caches.contains(d)) {
            (true, true) => {
                return Err(src.error(
                    &dst.span(),
                    Invalid,
                    format!(
                        "network rule {name}: destination {d} names both a private endpoint and a cache; rename one"
                    ),
                ));
            }
            (false, false) => {
                return Err(src.error(
                    &dst.span(),
                    UnknownReference,
                    format!(
                        "network rule {name}: destination {d} is neither a private endpoint nor a cache of the scenario"
                    ),
                ));
            }
            _ => {}
        }
    }
    if let (Some(deny_as), Some(s)) = (&r.deny_as, &r.source)
        && *deny_as.get_ref() == DenyAs::Refuse
    {
        return Err(src.error(
            &deny_as.span(),
            Invalid,
            format!(
                "network rule {name}: deny_as = \"refuse\" for source {} only is not possible: a refusal (RST) cannot be limited to some sources without privileges; use drop (what an NSG deny does) or reset",
                s.get_ref()
            ),
        ));
    }
    Ok(())
}

/// A `[[toxic]]` table: a unique name, a declared network and endpoint, a kind with its numbers.
fn toxic(
    src: &ScenarioText,
    declared: &Declared,
    toxic_names: &mut HashSet<String>,
    t: &ToxicSpec,
) -> Result<(), ScenarioError> {
    let name = t.name.get_ref();
    check_name(src, "toxic", &t.name)?;
    if !toxic_names.insert(name.clone()) {
        return Err(src.error(
            &t.name.span(),
            Duplicate,
            format!("duplicate toxic name {name}"),
        ));
    }
    if let Some(n) = &t.network {
        declared.network(src, n, &format!("toxic {name}"))?;
    }
    if let Some(e) = &t.endpoint
        && !declared.endpoints.contains(e.get_ref())
        && !declared.caches.contains(e.get_ref())
    {
        return Err(src.error(
            &e.span(),
            UnknownReference,
            format!(
                "toxic {name}: endpoint {} is neither a private endpoint nor a cache of the scenario",
                e.get_ref()
            ),
        ));
    }
    let kind = t
        .toxic_kind()
        .map_err(|m| src.error(&t.kind.span(), Invalid, m))?;
    let toxic = Toxic {
        name: name.clone(),
        endpoint: None,
        network: None,
        kind,
        direction: t.direction,
        toxicity: t.toxicity.unwrap_or_default(),
    };
    toxic
        .check()
        .map_err(|m| src.error(&t.kind.span(), Invalid, m))
}

/// Check one ACL rule's shape (keywords, password hashes, key-permission prefixes, categories —
/// the engine's own category list, [`CATEGORIES`], plus `all`). `Err` says what is wrong.
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
            Some(cat) if cat != "all" && !CATEGORIES.contains(&cat) => Err(format!(
                "ACL rule {rule:?}: unknown category @{cat} (categories: all, {})",
                CATEGORIES.join(", ")
            )),
            _ => Ok(()),
        },
        _ => Err(format!(
            "ACL rule {rule:?} is not a rule: use on/off, >password, nopass, +command, -command, +@category, ~keypattern, &channel, allkeys, allchannels, reset..."
        )),
    }
}

/// The record name relative to `zone` ("@" for the apex), or an error pointing at it.
pub(crate) fn relative_record_name(
    src: &ScenarioText,
    zone: &str,
    name: &Spanned<String>,
) -> Result<String, ScenarioError> {
    let raw = name.get_ref();
    names::relative_record_name(zone, raw).map_err(|e| {
        let message = match e {
            RecordNameError::NotInZone => format!("record {raw} is not in zone {zone}"),
            RecordNameError::Invalid => format!("record name {raw} is not a valid DNS name"),
        };
        src.error(&name.span(), ScenarioErrorKind::Invalid, message)
    })
}

fn check_name(src: &ScenarioText, kind: &str, name: &Spanned<String>) -> Result<(), ScenarioError> {
    let n = name.get_ref();
    let ok = !n.is_empty()
        && n.len() <= 80
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(src.error(
            &name.span(),
            ScenarioErrorKind::Invalid,
            format!("{kind} name {n:?} must be 1–80 letters, digits, '-', '_' or '.'"),
        ));
    }
    if kind == "cache" {
        check_label(src, name, "cache name")?;
    }
    Ok(())
}

fn check_label(
    src: &ScenarioText,
    value: &Spanned<String>,
    what: &str,
) -> Result<(), ScenarioError> {
    let v = value.get_ref();
    if !is_host_label(v) {
        return Err(src.error(&value.span(), ScenarioErrorKind::Invalid, format!("{what} {v:?} must be a host name label: 1–63 lowercase letters, digits and '-', not starting or ending with '-'")));
    }
    Ok(())
}

fn check_dns_name(
    src: &ScenarioText,
    value: &Spanned<String>,
    what: &str,
) -> Result<(), ScenarioError> {
    if is_dns_name(&normalize_name(value.get_ref())) {
        Ok(())
    } else {
        Err(src.error(
            &value.span(),
            ScenarioErrorKind::Invalid,
            format!("{what} {:?} is not a valid DNS name", value.get_ref()),
        ))
    }
}

fn check_loopback(
    src: &ScenarioText,
    addr: &Spanned<Ipv4Addr>,
    what: &str,
) -> Result<(), ScenarioError> {
    let a = *addr.get_ref();
    if is_loopback(a) {
        Ok(())
    } else {
        Err(src.error(&addr.span(), ScenarioErrorKind::Address, format!("{what}: address {a} is outside 127.0.0.0/8; every simulated address is a loopback alias, so traffic never leaves the machine")))
    }
}

#[cfg(test)]
mod tests {
    use super::check_acl_rule;

    #[test]
    fn acl_categories_are_the_engines_plus_all() {
        for ok in [
            "+@all",
            "-@ALL",
            "+@read",
            "-@dangerous",
            "+@scripting",
            "+get",
            "~k:*",
        ] {
            assert_eq!(check_acl_rule(ok), Ok(()), "{ok}");
        }
        // The text the scenario checks gave when they kept their own copy of the list.
        assert_eq!(
            check_acl_rule("+@bogus"),
            Err("ACL rule \"+@bogus\": unknown category @bogus (categories: all, keyspace, read, \
                 write, set, sortedset, list, hash, string, bitmap, hyperloglog, geo, stream, \
                 pubsub, admin, fast, slow, blocking, dangerous, connection, transaction, scripting)"
                .to_owned())
        );
    }
}
