//! What an endpoint does with a connection from a given source, and why: the pure function
//! [`verdict`].
//!
//! The source is where the client connects from ([`Source`]): the host (127.0.0.1 or any address
//! that is no network's client address), or a network (identified by its client address, e.g.
//! `127.11.2.1`). The host's verdicts follow the world's [`HostPosition`]: on the internet it reaches
//! public endpoints only (a private endpoint's address is private to its virtual network: the SYN
//! goes unanswered, a drop); in a network it is one more client of that network (every check below
//! as for that network's sources).
//!
//! Checks, in order (the first that decides wins):
//! 1. The endpoint or its cache does not exist → refuse.
//! 2. The cache is stopped, or its backend does not answer (`Cache::backend_unreachable`) →
//!    refuse (every endpoint, every source).
//! 3. The port is not one the cache serves → refuse.
//! 4. A private endpoint that is not `Approved` (Pending, Rejected, Disconnected) → drop.
//! 5. A public endpoint with public network access `Disabled` → the cache's `public_blocked_action`
//!    (refuse by default; drop, reset, blackhole).
//! 6. A network source reaching a private endpoint of another network it is not peered with → drop.
//! 7. Network rules (network sources only), by priority: the first rule matching the source, the
//!    destination (the private endpoint, or the cache for any of its endpoints) and the port decides;
//!    allow goes on, deny fails as its `deny_as` says (drop, reset, blackhole; refuse only for rules
//!    without a source).
//! 8. Public endpoint with firewall rules: a source address no rule admits → drop (reset or
//!    blackhole when that is the cache's `public_blocked_action`: a firewall miss is per source,
//!    and a refusal cannot be limited to some sources).
//! 9. Otherwise → route to the cache's engine (through the toxics on the path, if any).
//!
//! Checks 1–5 are the same for every source; 6–8 may differ per source, which the edge turns into
//! per-source primitives (a socket filter for drop, a decision after accept for reset/blackhole).

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::endpoint::EndpointId;
use crate::model::{
    BlockedAction, Cache, ConnectionState, DenyAs, HostPosition, PublicNetworkAccess, RuleAction,
    World,
};
use crate::toxic::Toxic;

/// What a connection to an endpoint's address:port meets. Match on it exhaustively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The connection is handed to the cache's engine.
    Route,
    /// Connection refused: nothing listens (ECONNREFUSED at once).
    Refuse,
    /// The SYN is never answered: the client's connect times out.
    Drop,
    /// Accepted, then reset: ECONNRESET at the first read or write.
    Reset,
    /// Accepted, then never answered: commands time out.
    Blackhole,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 5] = [
        Verdict::Route,
        Verdict::Refuse,
        Verdict::Drop,
        Verdict::Reset,
        Verdict::Blackhole,
    ];

    /// Lowercase name, as reports and the state file spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Route => "route",
            Verdict::Refuse => "refuse",
            Verdict::Drop => "drop",
            Verdict::Reset => "reset",
            Verdict::Blackhole => "blackhole",
        }
    }

    /// What the client experiences, as the end of an explanation ("so the connection was …").
    pub const fn consequence(self) -> &'static str {
        match self {
            Verdict::Route => "the connection goes to the cache's engine",
            Verdict::Refuse => "the connection was refused",
            Verdict::Drop => "the connection was dropped (its SYN is never answered)",
            Verdict::Reset => "the connection was reset",
            Verdict::Blackhole => "the connection was accepted and is never answered",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<BlockedAction> for Verdict {
    fn from(a: BlockedAction) -> Verdict {
        match a {
            BlockedAction::Refuse => Verdict::Refuse,
            BlockedAction::Drop => Verdict::Drop,
            BlockedAction::Reset => Verdict::Reset,
            BlockedAction::Blackhole => Verdict::Blackhole,
        }
    }
}

impl From<DenyAs> for Verdict {
    fn from(a: DenyAs) -> Verdict {
        match a {
            DenyAs::Refuse => Verdict::Refuse,
            DenyAs::Drop => Verdict::Drop,
            DenyAs::Reset => Verdict::Reset,
            DenyAs::Blackhole => Verdict::Blackhole,
        }
    }
}

/// Where a connection comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The host: 127.0.0.1 or any address that is no network's client address.
    Host,
    /// A client in the named network (connecting from the network's client address).
    Network(String),
}

/// The address the host's clients connect from.
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::LOCALHOST;

impl Source {
    /// The source of a connection from `address`: the network whose client address it is, else the
    /// host.
    pub fn of_address(world: &World, address: Ipv4Addr) -> Source {
        world
            .networks
            .iter()
            .find(|n| n.client_address == address)
            .map_or(Source::Host, |n| Source::Network(n.name.clone()))
    }

    /// The host, then every network in file order.
    pub fn all(world: &World) -> Vec<Source> {
        std::iter::once(Source::Host)
            .chain(
                world
                    .networks
                    .iter()
                    .map(|n| Source::Network(n.name.clone())),
            )
            .collect()
    }

    /// The address the source's clients connect from (`None` for an unknown network).
    pub fn address(&self, world: &World) -> Option<Ipv4Addr> {
        match self {
            Source::Host => Some(HOST_ADDRESS),
            Source::Network(n) => world.network(n).map(|n| n.client_address),
        }
    }

    /// The network's name, if the source is one.
    pub fn network(&self) -> Option<&str> {
        match self {
            Source::Host => None,
            Source::Network(n) => Some(n),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Host => f.write_str("the host (127.0.0.1)"),
            Source::Network(n) => write!(f, "network {n}"),
        }
    }
}

/// Whether a redis-server `bind` list accepts connections arriving on `addr`: `*` and `0.0.0.0` accept
/// every IPv4 address, a leading `-` (optional address) is ignored, IPv6 entries never match.
pub fn bind_admits(bind: &[String], addr: Ipv4Addr) -> bool {
    bind.iter().any(|entry| {
        let entry = entry.strip_prefix('-').unwrap_or(entry);
        entry == "*" || entry == "0.0.0.0" || entry.parse::<Ipv4Addr>().is_ok_and(|a| a == addr)
    })
}

fn decided(v: Verdict, why: String) -> (Verdict, String) {
    (v, format!("{why}, so {}", v.consequence()))
}

/// The verdict for a connection from `source` to `endpoint` on `port`, and a one-line explanation
/// of it ("public network access of cache contoso is Disabled, so the connection was refused").
/// The host's connections are judged from where the world puts it ([`HostPosition`]).
pub fn verdict(
    world: &World,
    endpoint: &EndpointId,
    port: u16,
    source: &Source,
) -> (Verdict, String) {
    if *source == Source::Host
        && let HostPosition::Network(net) = &world.host
    {
        let (v, why) = judge(world, endpoint, port, &Source::Network(net.clone()));
        return (v, format!("the host is in network {net}: {why}"));
    }
    judge(world, endpoint, port, source)
}

fn judge(world: &World, endpoint: &EndpointId, port: u16, source: &Source) -> (Verdict, String) {
    let (cache_name, pe) = match endpoint {
        EndpointId::Public { cache } => (cache.as_str(), None),
        EndpointId::Private { endpoint: name } => match world.private_endpoint(name) {
            Some(pe) => (pe.cache.as_str(), Some(pe)),
            None => {
                return decided(
                    Verdict::Refuse,
                    format!("the world has no private endpoint named {name}"),
                );
            }
        },
    };
    let Some(cache) = world.cache(cache_name) else {
        return decided(
            Verdict::Refuse,
            format!("the world has no cache named {cache_name}"),
        );
    };
    if !cache.running {
        return decided(Verdict::Refuse, format!("cache {} is stopped", cache.name));
    }
    if let Some(why) = &cache.backend_unreachable {
        return decided(
            Verdict::Refuse,
            format!("cache {} is down: backend {why}", cache.name),
        );
    }
    if !cache.served_ports().contains(&port) {
        return decided(Verdict::Refuse, unserved_port(cache, port));
    }
    if let Some((node, _)) = cache.node_of_port(port)
        && let Some(why) = cache.backend_nodes_down.get(&node)
    {
        return decided(
            Verdict::Refuse,
            format!("cache {} node {node} is down: backend {why}", cache.name),
        );
    }
    // The engine's own bind list: an address it does not listen on refuses, as redis-server does.
    let arrival = pe.map_or(cache.public_address, |pe| pe.address);
    if let Some(bind) = &cache.bind
        && !bind_admits(bind, arrival)
    {
        return decided(
            Verdict::Refuse,
            format!(
                "the engine of cache {} binds {} only, which does not include {arrival}",
                cache.name,
                bind.join(" ")
            ),
        );
    }
    // Endpoint admission (the same for every source).
    match pe {
        Some(pe) if pe.state != ConnectionState::Approved => {
            return decided(
                Verdict::Drop,
                format!(
                    "{endpoint} is {} (only Approved connections pass traffic)",
                    pe.state
                ),
            );
        }
        None if cache.public_network_access == PublicNetworkAccess::Disabled => {
            return decided(
                cache.public_blocked_action.into(),
                format!(
                    "public network access of cache {} is Disabled (blocked clients: {})",
                    cache.name, cache.public_blocked_action
                ),
            );
        }
        _ => {}
    }
    let mut notes: Vec<String> = Vec::new();
    if *source == Source::Host
        && let Some(pe) = pe
    {
        return decided(
            Verdict::Drop,
            format!(
                "the host is on the internet, and {endpoint} has a private address of network {}: private endpoints are reachable from their network, peered networks and on-premises, never from the internet",
                pe.network
            ),
        );
    }
    // The path from the source's network.
    if let Source::Network(net) = source {
        if world.network(net).is_none() {
            return decided(
                Verdict::Drop,
                format!("the world has no network named {net}"),
            );
        }
        if let Some(pe) = pe
            && pe.network != *net
        {
            let peered = world
                .network(net)
                .is_some_and(|n| n.peered_with.contains(&pe.network));
            if !peered {
                return decided(
                    Verdict::Drop,
                    not_peered(world, net, &pe.network, &endpoint.to_string()),
                );
            }
            notes.push(format!("network {net} is peered with {}", pe.network));
        }
        let mut rules: Vec<_> = world
            .network_rules
            .iter()
            .filter(|r| r.source.as_deref().is_none_or(|s| s == net))
            .filter(|r| {
                r.destination
                    .as_deref()
                    .is_none_or(|d| d == cache.name || pe.is_some_and(|pe| pe.name == d))
            })
            .filter(|r| r.port.is_none_or(|p| p == port))
            .collect();
        rules.sort_by_key(|r| r.priority);
        if let Some(rule) = rules.first() {
            match rule.action {
                RuleAction::Allow => notes.push(format!(
                    "network rule {} (priority {}) allows it",
                    rule.name, rule.priority
                )),
                RuleAction::Deny => {
                    return decided(
                        rule.deny_as.into(),
                        format!(
                            "network rule {} (priority {}) denies network {net} → {endpoint} port {port} (deny as {})",
                            rule.name, rule.priority, rule.deny_as
                        ),
                    );
                }
            }
        }
    }
    // The public endpoint's firewall.
    if pe.is_none() && !cache.firewall_rules.is_empty() {
        let address = source.address(world).unwrap_or(HOST_ADDRESS);
        match cache.firewall_rules.iter().find(|r| r.admits(address)) {
            Some(rule) => notes.push(format!("firewall rule {} admits {address}", rule.name)),
            None => {
                let v = match cache.public_blocked_action {
                    BlockedAction::Reset => Verdict::Reset,
                    BlockedAction::Blackhole => Verdict::Blackhole,
                    BlockedAction::Drop | BlockedAction::Refuse => Verdict::Drop,
                };
                let rules: Vec<String> = cache
                    .firewall_rules
                    .iter()
                    .map(|r| format!("{}: {}–{}", r.name, r.start, r.end))
                    .collect();
                return decided(
                    v,
                    format!(
                        "source {address} ({source}) matches none of the firewall rules of cache {} ({})",
                        cache.name,
                        rules.join(", ")
                    ),
                );
            }
        }
    }
    let admitted = match pe {
        Some(_) => format!("{endpoint} is Approved"),
        None => format!("public network access of cache {} is Enabled", cache.name),
    };
    let toxics: Vec<String> = world
        .toxics_for(endpoint, source)
        .iter()
        .map(|t| t.to_string())
        .collect();
    if !toxics.is_empty() {
        notes.push(format!("through toxics {}", toxics.join(", ")));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let node = cache
        .node_of_port(port)
        .map(|(n, _)| format!(" (cluster node {n})"))
        .unwrap_or_default();
    (
        Verdict::Route,
        format!(
            "{admitted}{notes}, so the connection goes to cache {}{node}",
            cache.name
        ),
    )
}

fn unserved_port(cache: &Cache, port: u16) -> String {
    let served: Vec<String> = cache.served_ports().iter().map(u16::to_string).collect();
    let hint = if cache.ports.plain.is_none() && port == cache.flavour.default_port() {
        "the non-TLS port is disabled; "
    } else {
        ""
    };
    format!(
        "cache {} does not serve port {port} ({hint}it serves {})",
        cache.name,
        served.join(", ")
    )
}

impl Toxic {
    /// Whether the toxic applies to a connection from `source` to `endpoint` (of cache `cache`).
    pub fn applies(&self, endpoint: &EndpointId, cache: &str, source: &Source) -> bool {
        let endpoint_ok = self.endpoint.as_deref().is_none_or(|e| match endpoint {
            EndpointId::Private { endpoint } => e == endpoint || e == cache,
            EndpointId::Public { .. } => e == cache,
        });
        let network_ok = self
            .network
            .as_deref()
            .is_none_or(|n| matches!(source, Source::Network(s) if s == n));
        endpoint_ok && network_ok
    }
}

impl World {
    /// The toxics on the path from `source` to `endpoint`, in world order.
    pub fn toxics_for(&self, endpoint: &EndpointId, source: &Source) -> Vec<&Toxic> {
        let cache = match endpoint {
            EndpointId::Public { cache } => cache.as_str(),
            EndpointId::Private { endpoint } => match self.private_endpoint(endpoint) {
                Some(pe) => pe.cache.as_str(),
                None => return Vec::new(),
            },
        };
        self.toxics
            .iter()
            .filter(|t| t.applies(endpoint, cache, source))
            .collect()
    }
}

/// Why `net` cannot reach `remote`'s endpoints: no peering, or a peering missing one side
/// (`Initiated`: the remote side was never created; `Disconnected`: it was deleted).
fn not_peered(world: &World, net: &str, remote: &str, endpoint: &str) -> String {
    let side = |a: &str, b: &str| world.network(a).and_then(|n| n.peering_state(b));
    let half = match (side(net, remote), side(remote, net)) {
        (Some(state), None) => Some(format!(
            "network {net}'s peering to {remote} is {state}: {remote} has no peering back to {net}, and a peering passes traffic only when both sides exist"
        )),
        (None, Some(state)) => Some(format!(
            "network {remote}'s peering to {net} is {state}: {net} has no peering to {remote}, and a peering passes traffic only when both sides exist"
        )),
        (Some(a), Some(b)) => Some(format!(
            "the peering between {net} ({a}) and {remote} ({b}) is not Connected"
        )),
        (None, None) => None,
    };
    match half {
        Some(h) => format!(
            "network {net} is not peered with network {remote}, where {endpoint} lives: {h}"
        ),
        None => {
            format!("network {net} is not peered with network {remote}, where {endpoint} lives")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AddressPlan, Scenario, World, quickstart};

    fn qs() -> World {
        World::build(&quickstart(), &AddressPlan::default()).expect("quickstart builds")
    }

    fn pe(name: &str) -> EndpointId {
        EndpointId::Private {
            endpoint: name.into(),
        }
    }

    fn public(cache: &str) -> EndpointId {
        EndpointId::Public {
            cache: cache.into(),
        }
    }

    fn net(n: &str) -> Source {
        Source::Network(n.into())
    }

    #[test]
    fn quickstart_routes_the_approved_endpoint_and_refuses_public() {
        let w = qs();
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 6379, &Source::Host).0,
            Verdict::Route
        );
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 6380, &net("hub")).0,
            Verdict::Route
        );
        let (v, why) = verdict(&w, &public("contoso"), 6380, &net("hub"));
        assert_eq!(v, Verdict::Refuse);
        assert_eq!(
            why,
            "public network access of cache contoso is Disabled (blocked clients: refuse), so the connection was refused"
        );
    }

    #[test]
    fn the_unpeered_spoke_is_dropped_at_the_hub_endpoint() {
        let w = qs();
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &net("spoke"));
        assert_eq!(v, Verdict::Drop);
        assert!(why.contains("not peered"), "{why}");
        let mut w = w;
        for n in &mut w.networks {
            n.peered_with = vec![if n.name == "hub" { "spoke" } else { "hub" }.to_owned()];
        }
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &net("spoke"));
        assert_eq!(v, Verdict::Route, "{why}");
        assert!(why.contains("peered"), "{why}");
    }

    #[test]
    fn every_state_but_approved_drops() {
        for state in [
            ConnectionState::Pending,
            ConnectionState::Rejected,
            ConnectionState::Disconnected,
        ] {
            let mut w = qs();
            w.set_endpoint_state("pe-hub", state).expect("endpoint");
            let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &Source::Host);
            assert_eq!(v, Verdict::Drop);
            assert!(why.contains(state.as_str()), "{why}");
        }
    }

    #[test]
    fn public_access_disabled_uses_the_blocked_action() {
        let mut w = qs();
        for (action, expected) in [
            (BlockedAction::Drop, Verdict::Drop),
            (BlockedAction::Reset, Verdict::Reset),
            (BlockedAction::Blackhole, Verdict::Blackhole),
            (BlockedAction::Refuse, Verdict::Refuse),
        ] {
            w.set_public_access("contoso", PublicNetworkAccess::Disabled, Some(action))
                .expect("cache");
            assert_eq!(
                verdict(&w, &public("contoso"), 6380, &Source::Host).0,
                expected
            );
        }
        w.set_public_access("contoso", PublicNetworkAccess::Enabled, None)
            .expect("cache");
        assert_eq!(
            verdict(&w, &public("contoso"), 6380, &net("spoke")).0,
            Verdict::Route
        );
    }

    #[test]
    fn unserved_ports_unknown_endpoints_and_stopped_caches_refuse() {
        let mut w = qs();
        let (v, why) = verdict(&w, &pe("pe-hub"), 10000, &Source::Host);
        assert_eq!(v, Verdict::Refuse);
        assert!(why.contains("does not serve port 10000"), "{why}");
        assert_eq!(
            verdict(&w, &pe("nope"), 6380, &Source::Host).0,
            Verdict::Refuse
        );
        assert_eq!(
            verdict(&w, &public("nope"), 6380, &Source::Host).0,
            Verdict::Refuse
        );
        w.set_cache_running("contoso", false).expect("cache");
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &net("hub"));
        assert_eq!(v, Verdict::Refuse);
        assert!(why.contains("stopped"), "{why}");
    }

    #[test]
    fn an_unreachable_backend_refuses_everywhere_until_it_answers() {
        let mut w = qs();
        let why_down = "127.0.0.1:6379 unreachable: Connection refused (os error 111)";
        assert!(
            w.set_backend_unreachable("contoso", Some(why_down.into()))
                .expect("cache")
        );
        for (ep, source) in [(pe("pe-hub"), net("hub")), (pe("pe-hub"), Source::Host)] {
            let (v, why) = verdict(&w, &ep, 6380, &source);
            assert_eq!(v, Verdict::Refuse);
            assert!(why.contains(&format!("backend {why_down}")), "{why}");
        }
        assert!(w.set_backend_unreachable("contoso", None).expect("cache"));
        assert!(!w.set_backend_unreachable("contoso", None).expect("cache"));
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 6380, &net("hub")).0,
            Verdict::Route
        );
    }

    #[test]
    fn a_cluster_backends_nodes_get_ports_and_a_down_node_refuses_only_its_own() {
        let mut w = qs();
        let contoso = w.caches.iter_mut().find(|c| c.name == "contoso");
        contoso.expect("cache").backend = Some(crate::Backend {
            upstream: crate::Upstream::Cluster(vec!["127.0.0.1:7000".parse().expect("addr")]),
            tls: false,
            ca_file: None,
            server_name: None,
            password_env: None,
            socket: None,
        });
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 15001, &net("hub")).0,
            Verdict::Refuse,
            "no node discovered yet: no per-node port"
        );
        let down = "127.0.0.1:7001 unreachable: Connection refused (os error 111)";
        let nodes_down = std::collections::BTreeMap::from([(1, down.to_owned())]);
        assert!(
            w.set_backend_nodes("contoso", 3, nodes_down)
                .expect("cache")
        );
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 15000, &net("hub")).0,
            Verdict::Route
        );
        let (v, why) = verdict(&w, &pe("pe-hub"), 15001, &net("hub"));
        assert_eq!(v, Verdict::Refuse);
        assert!(
            why.contains(&format!("cache contoso node 1 is down: backend {down}")),
            "{why}"
        );
        // The scenario form: seeds on loopback, cluster_announce allowed as for a clustered cache.
        let text = r#"
[[cache]]
name = "contoso"
backend = { cluster = ["127.0.0.1:7000", "127.0.0.1:7001"] }
cluster_announce = "127.99.0.1"
"#;
        let s = Scenario::parse("cluster-backend.toml", text).expect("parses");
        let built = World::build(&s, &AddressPlan::default()).expect("builds");
        let c = built.cache("contoso").expect("cache");
        assert!(c.has_cluster_backend());
        assert_eq!(c.cluster_announce, Some(Ipv4Addr::new(127, 99, 0, 1)));
        // Nodes keep their ports: a smaller count does not take them away.
        w.set_backend_nodes("contoso", 1, Default::default())
            .expect("cache");
        assert_eq!(
            verdict(&w, &pe("pe-hub"), 15002, &net("hub")).0,
            Verdict::Route
        );
    }

    const RULES: &str = r#"
[[network]]
name = "hub"
peered_with = ["spoke"]
[[network]]
name = "spoke"
[[cache]]
name = "contoso"
public_network_access = "Enabled"
public_blocked_action = "reset"
firewall_rules = [{ name = "office", start = "127.0.0.1", end = "127.0.0.1" }]
[[private_endpoint]]
name = "pe-hub"
network = "hub"
cache = "contoso"
[[network_rule]]
name = "allow-spoke-tls"
priority = 100
source = "spoke"
port = 6380
action = "allow"
[[network_rule]]
name = "deny-spoke"
priority = 200
source = "spoke"
destination = "contoso"
action = "deny"
deny_as = "reset"
[[toxic]]
name = "slow"
endpoint = "pe-hub"
network = "hub"
kind = "latency"
latency_ms = 50
"#;

    fn rules() -> World {
        let s = Scenario::parse("rules.toml", RULES).expect("parses");
        World::build(&s, &AddressPlan::default()).expect("builds")
    }

    #[test]
    fn network_rules_apply_by_priority_to_network_sources_only() {
        let mut w = rules();
        w.caches[0].non_tls_port_for_tests();
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &net("spoke"));
        assert_eq!(v, Verdict::Route, "{why}");
        assert!(why.contains("allow-spoke-tls"), "{why}");
        let (v, why) = verdict(&w, &pe("pe-hub"), 6379, &net("spoke"));
        assert_eq!(v, Verdict::Reset, "{why}");
        assert!(why.contains("deny-spoke"), "{why}");
        let (v, why) = verdict(&w, &pe("pe-hub"), 6379, &net("hub"));
        assert_eq!(v, Verdict::Route, "{why}");
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &net("hub"));
        assert_eq!(v, Verdict::Route);
        assert!(why.contains("toxics slow"), "{why}");
    }

    #[test]
    fn the_host_on_the_internet_never_reaches_a_private_endpoint() {
        let mut w = qs();
        w.host = HostPosition::Internet;
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &Source::Host);
        assert_eq!(v, Verdict::Drop, "{why}");
        assert!(why.contains("never from the internet"), "{why}");
        // Public endpoints admit it as public access says.
        w.set_public_access("contoso", PublicNetworkAccess::Enabled, None)
            .expect("cache");
        assert_eq!(
            verdict(&w, &public("contoso"), 6380, &Source::Host).0,
            Verdict::Route
        );
    }

    #[test]
    fn the_host_in_a_network_gets_that_networks_verdicts() {
        let mut w = qs();
        assert_eq!(
            w.host,
            HostPosition::Network("hub".into()),
            "the quickstart's"
        );
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &Source::Host);
        assert_eq!(v, Verdict::Route, "{why}");
        assert!(why.starts_with("the host is in network hub: "), "{why}");
        w.host = HostPosition::Network("spoke".into());
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380, &Source::Host);
        assert_eq!(v, Verdict::Drop, "{why}");
        assert!(why.contains("not peered"), "{why}");
    }

    #[test]
    fn firewall_misses_fail_per_source() {
        let w = rules();
        let (v, why) = verdict(&w, &public("contoso"), 6380, &Source::Host);
        assert_eq!(v, Verdict::Route, "{why}");
        assert!(
            why.contains("firewall rule office admits 127.0.0.1"),
            "{why}"
        );
        assert_eq!(w.host, HostPosition::Internet, "the default");
        let (v, why) = verdict(&w, &public("contoso"), 6380, &net("hub"));
        assert_eq!(v, Verdict::Reset, "{why}");
        assert!(why.contains("matches none of the firewall rules"), "{why}");
    }

    #[test]
    fn sources_are_found_by_client_address() {
        let w = qs();
        let hub = w.network("hub").expect("hub").client_address;
        assert_eq!(Source::of_address(&w, hub), net("hub"));
        assert_eq!(Source::of_address(&w, HOST_ADDRESS), Source::Host);
        assert_eq!(
            Source::of_address(&w, Ipv4Addr::new(127, 9, 9, 9)),
            Source::Host
        );
        assert_eq!(Source::all(&w).len(), 3);
    }

    #[test]
    fn endpoints_lists_public_then_private_with_ports() {
        let w = qs();
        let eps = w.endpoints();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].id, public("contoso"));
        assert_eq!(eps[0].ports, vec![6379, 6380]);
        assert_eq!(eps[0].tls_ports, vec![6380]);
        assert_eq!(eps[1].id, pe("pe-hub"));
        assert_eq!(eps[1].network.as_deref(), Some("hub"));
        assert_eq!(eps[1].state, Some(ConnectionState::Approved));
    }

    impl Cache {
        fn non_tls_port_for_tests(&mut self) {
            self.ports.plain = Some(6379);
        }
    }
}

#[cfg(test)]
mod bind_tests {
    use super::bind_admits;
    use std::net::Ipv4Addr;

    #[test]
    fn bind_lists_like_redis() {
        let local = vec!["127.0.0.1".to_string(), "-::1".to_string()];
        assert!(bind_admits(&local, Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!bind_admits(&local, Ipv4Addr::new(127, 10, 1, 4)));
        let all = vec!["*".to_string(), "-::*".to_string()];
        assert!(bind_admits(&all, Ipv4Addr::new(127, 10, 1, 4)));
        let optional = vec!["-127.10.1.4".to_string()];
        assert!(bind_admits(&optional, Ipv4Addr::new(127, 10, 1, 4)));
    }
}
