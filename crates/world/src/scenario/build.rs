//! Building a [`World`] from a validated scenario file: Azure's defaults applied and every address
//! the file does not pin allocated from an [`AddressPlan`], one function per table.
//!
//! Defaults applied here: a cache's public network access is Disabled when the scenario gives it a
//! private endpoint and Enabled otherwise; peering is made symmetric; every zone with
//! `auto_register` gets an A record (TTL 10) for each private endpoint of a cache whose flavour uses
//! that zone, unless the zone declares records of that name itself (when several endpoints of one
//! cache register, the last in file order wins, as Azure's zone groups overwrite each other).

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::Range;

use super::file::{
    CacheSpec, DnsZoneSpec, FirewallRuleSpec, ForwarderSpec, NetworkRuleSpec, NetworkSpec,
    PrivateEndpointSpec, ScenarioFile, UserSpec,
};
use super::validate::relative_record_name;
use crate::address::{AddressPlan, FIRST_ENDPOINT_HOST};
use crate::cluster_ports::ClusterPolicy;
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::flavour::Flavour;
use crate::model::{
    ARecord, Cache, CachePorts, CacheUser, DnsZone, FirewallRule, ForwardRule, Forwarder,
    ForwarderAnswer, HalfPeering, HostPosition, Network, NetworkRule, PeeringState,
    PrivateEndpoint, PublicNetworkAccess, World, ZoneLink,
};
use crate::names::{DEFAULT_FORWARDER_NAME, default_link_name, normalize_name};
use crate::text::ScenarioText;
use crate::toxic::Toxic;
use crate::ttl;

/// The world `file` describes, with unpinned addresses from `plan`.
pub(crate) fn world(
    src: &ScenarioText,
    file: &ScenarioFile,
    plan: &AddressPlan,
) -> Result<World, ScenarioError> {
    let mut alloc = Allocator::pinned(file);
    let mut networks = file
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| network(src, plan, &mut alloc, i, n))
        .collect::<Result<Vec<_>, _>>()?;
    for (net, spec) in networks.iter_mut().zip(&file.networks) {
        net.dns_cache = spec.dns_cache.unwrap_or(file.dns_cache);
    }
    peer_symmetrically(&mut networks);
    initiate_peerings(&mut networks, &file.networks);
    let caches = file
        .caches
        .iter()
        .enumerate()
        .map(|(i, c)| cache(src, file, plan, &mut alloc, i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let private_endpoints = file
        .private_endpoints
        .iter()
        .map(|e| private_endpoint(src, plan, &mut alloc, &networks, &caches, e))
        .collect::<Result<Vec<_>, _>>()?;
    let dns_zones = file
        .dns_zones
        .iter()
        .map(|z| dns_zone(src, &caches, &private_endpoints, z))
        .collect::<Result<Vec<_>, _>>()?;
    let network_rules = file.network_rules.iter().map(network_rule).collect();
    let toxics = file
        .toxics
        .iter()
        .map(|t| toxic(src, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(World {
        name: file.name.clone(),
        plan: *plan,
        networks,
        caches,
        private_endpoints,
        dns_zones,
        network_rules,
        toxics,
        host: file
            .host
            .as_ref()
            .map_or(HostPosition::Internet, |h| h.get_ref().position()),
    })
}

/// Hands out addresses that nothing pinned.
struct Allocator {
    taken: HashSet<Ipv4Addr>,
}

impl Allocator {
    /// An allocator that never hands out an address the file pins.
    fn pinned(file: &ScenarioFile) -> Allocator {
        let mut taken = HashSet::new();
        for n in &file.networks {
            taken.extend(n.resolver_address.iter().map(|a| *a.get_ref()));
            taken.extend(n.client_address.iter().map(|a| *a.get_ref()));
        }
        taken.extend(
            file.caches
                .iter()
                .filter_map(|c| c.public_address.as_ref())
                .map(|a| *a.get_ref()),
        );
        taken.extend(
            file.private_endpoints
                .iter()
                .filter_map(|e| e.address.as_ref())
                .map(|a| *a.get_ref()),
        );
        Allocator { taken }
    }

    fn next(&mut self, candidates: impl Iterator<Item = Ipv4Addr>) -> Option<Ipv4Addr> {
        let found = candidates.into_iter().find(|a| !self.taken.contains(a))?;
        self.taken.insert(found);
        Some(found)
    }

    /// The pinned address, else the first free candidate, else an error naming `what`.
    fn pinned_or_next(
        &mut self,
        pinned: Option<&toml::Spanned<Ipv4Addr>>,
        candidates: impl Iterator<Item = Ipv4Addr>,
        src: &ScenarioText,
        span: &Range<usize>,
        what: impl FnOnce() -> String,
    ) -> Result<Ipv4Addr, ScenarioError> {
        match pinned {
            Some(a) => Ok(*a.get_ref()),
            None => self
                .next(candidates)
                .ok_or_else(|| exhausted(src, span, what())),
        }
    }
}

fn exhausted(src: &ScenarioText, span: &Range<usize>, what: String) -> ScenarioError {
    src.error(
        span,
        ScenarioErrorKind::Invalid,
        format!("the address plan has no free address left for {what}"),
    )
}

/// The plan's 1-based index of the `i`-th network or cache (at most 254).
fn index(i: usize) -> Option<u8> {
    u8::try_from(i + 1).ok().filter(|n| *n < 255)
}

/// The `i`-th `[[network]]`: its resolver and client addresses, peerings, forwarder.
fn network(
    src: &ScenarioText,
    plan: &AddressPlan,
    alloc: &mut Allocator,
    i: usize,
    n: &NetworkSpec,
) -> Result<Network, ScenarioError> {
    let name = n.name.get_ref().clone();
    let span = n.name.span();
    if index(i).is_none() {
        return Err(exhausted(
            src,
            &span,
            format!("network {name} (at most 254 networks)"),
        ));
    }
    let resolver = alloc.pinned_or_next(
        n.resolver_address.as_ref(),
        (1..=254).map(|k| plan.resolver(k)),
        src,
        &span,
        || format!("the resolver of network {name}"),
    )?;
    let client_address = alloc.pinned_or_next(
        n.client_address.as_ref(),
        (1..=254).map(|k| plan.client(k)),
        src,
        &span,
        || format!("the client address of network {name}"),
    )?;
    Ok(Network {
        resolver,
        resolver_port: n.resolver_port,
        client_address,
        peered_with: n.peered_with.iter().map(|p| p.get_ref().clone()).collect(),
        forwarder: n.dns_forwarder.as_ref().map(forwarder),
        half_peerings: Vec::new(),
        dns_cache: false,
        peering_names: BTreeMap::new(),
        name,
    })
}

/// One-sided peerings (`initiated_peerings`): `Initiated` on this side, unless the remote network
/// declares its side too (then both sides exist and the peering is Connected).
fn initiate_peerings(networks: &mut [Network], specs: &[NetworkSpec]) {
    let sides: Vec<(String, String)> = specs
        .iter()
        .flat_map(|n| {
            n.initiated_peerings
                .iter()
                .map(move |p| (n.name.get_ref().clone(), p.get_ref().clone()))
        })
        .collect();
    for (a, b) in &sides {
        let both = sides.iter().any(|(x, y)| x == b && y == a)
            || networks
                .iter()
                .any(|n| &n.name == a && n.peered_with.contains(b));
        if let Some(n) = networks.iter_mut().find(|n| &n.name == a) {
            if both {
                if !n.peered_with.contains(b) {
                    n.peered_with.push(b.clone());
                }
            } else if n.peering_state(b).is_none() {
                n.half_peerings.push(HalfPeering {
                    remote: b.clone(),
                    state: PeeringState::Initiated,
                });
            }
        }
    }
}

/// A `[network.dns_forwarder]`: its static answers, names normalized.
fn forwarder(f: &ForwarderSpec) -> Forwarder {
    Forwarder {
        name: f
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_FORWARDER_NAME.to_owned()),
        forwards_to: f.forwards_to.as_ref().map(|t| t.get_ref().clone()),
        answers: f
            .answers
            .iter()
            .map(|(host, addr)| {
                let answer = ForwarderAnswer {
                    address: *addr.get_ref(),
                    ttl: f.ttl.unwrap_or(ttl::FORWARDER_ANSWER),
                };
                (normalize_name(host.get_ref()), answer)
            })
            .collect::<BTreeMap<_, _>>(),
        forward: f
            .forward
            .iter()
            .map(|r| ForwardRule {
                zone: if r.zone.get_ref() == "." {
                    ".".to_owned()
                } else {
                    normalize_name(r.zone.get_ref())
                },
                to: r.to.get_ref().clone(),
            })
            .collect(),
    }
}

/// Peering is symmetric: `a` peered with `b` makes `b` peered with `a`.
fn peer_symmetrically(networks: &mut [Network]) {
    let pairs: Vec<(String, String)> = networks
        .iter()
        .flat_map(|n| n.peered_with.iter().map(|p| (p.clone(), n.name.clone())))
        .collect();
    for (a, b) in pairs {
        if let Some(n) = networks.iter_mut().find(|n| n.name == a)
            && !n.peered_with.contains(&b)
        {
            n.peered_with.push(b);
        }
    }
}

/// The `i`-th `[[cache]]`: its public address, ports, users, default public access.
fn cache(
    src: &ScenarioText,
    file: &ScenarioFile,
    plan: &AddressPlan,
    alloc: &mut Allocator,
    i: usize,
    c: &CacheSpec,
) -> Result<Cache, ScenarioError> {
    let name = c.name.get_ref().clone();
    let span = c.name.span();
    if index(i).is_none() {
        return Err(exhausted(
            src,
            &span,
            format!("cache {name} (at most 254 caches)"),
        ));
    }
    let public_address = alloc.pinned_or_next(
        c.public_address.as_ref(),
        (1..=254).map(|k| plan.public(k)),
        src,
        &span,
        || format!("the public endpoint of cache {name}"),
    )?;
    let has_endpoint = file
        .private_endpoints
        .iter()
        .any(|e| e.cache.get_ref() == &name);
    let (sku, nodes) = super::validate::cache_nodes(src, c)?;
    Ok(Cache {
        sku,
        nodes,
        replication: c
            .replication
            .as_ref()
            .map(|r| *r.get_ref())
            .unwrap_or_default(),
        maintenance: None,
        name,
        flavour: c.flavour,
        region: c.region.as_ref().map(|r| r.get_ref().clone()),
        requirepass: c.requirepass.clone(),
        users: c.user.iter().map(cache_user).collect(),
        minimum_tls_version: crate::model::MINIMUM_TLS_VERSION.to_owned(),
        backend_unreachable: None,
        backend_nodes: 0,
        backend_nodes_down: BTreeMap::new(),
        maxclients: c.maxclients,
        bind: c.bind.clone(),
        ports: cache_ports(c),
        public_network_access: c.public_network_access.unwrap_or(if has_endpoint {
            PublicNetworkAccess::Disabled
        } else {
            PublicNetworkAccess::Enabled
        }),
        public_blocked_action: c.public_blocked_action,
        firewall_rules: c.firewall_rules.iter().map(firewall_rule).collect(),
        running: c.running,
        public_address,
        persistence: super::validate::cache_persistence(src, c)?,
        backend: c.backend.as_ref().and_then(|b| b.get_ref().to_backend()),
        cluster_policy: c
            .cluster_policy
            .as_ref()
            .map(|p| *p.get_ref())
            .unwrap_or_default(),
        shards: cache_shards(c),
        cluster_announce: c.cluster_announce.as_ref().map(|a| *a.get_ref()),
    })
}

/// A cache's shard count: as given; a managed-redis cache with the OSS policy and none given has
/// one (Azure: "Smaller Azure Managed Redis instances might use only one shard").
fn cache_shards(c: &CacheSpec) -> Option<u16> {
    let oss = c.cluster_policy.as_ref().map(|p| *p.get_ref()) == Some(ClusterPolicy::Oss);
    match (c.shards.as_ref().map(|s| *s.get_ref()), c.flavour) {
        (Some(n), _) => Some(n),
        (None, Flavour::ManagedRedis) if oss => Some(1),
        (None, _) => None,
    }
}

/// The ports a cache serves: the flavour's defaults unless overridden, each only if enabled.
fn cache_ports(c: &CacheSpec) -> CachePorts {
    CachePorts {
        plain: c
            .non_tls_port
            .then(|| c.port.unwrap_or(c.flavour.default_port())),
        tls: c
            .tls
            .then(|| c.tls_port.unwrap_or(c.flavour.default_tls_port())),
    }
}

/// A `[[cache.user]]` (the engine applies `on`, the password, then the rules).
fn cache_user(u: &UserSpec) -> CacheUser {
    CacheUser {
        name: u.name.get_ref().clone(),
        password: u.password.clone(),
        rules: u
            .rules
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default(),
    }
}

/// One of a cache's `firewall_rules`.
fn firewall_rule(r: &FirewallRuleSpec) -> FirewallRule {
    FirewallRule {
        name: r.name.get_ref().clone(),
        start: *r.start.get_ref(),
        end: *r.end.get_ref(),
    }
}

/// A `[[private_endpoint]]`: its address in its network's range, its group id from the cache.
fn private_endpoint(
    src: &ScenarioText,
    plan: &AddressPlan,
    alloc: &mut Allocator,
    networks: &[Network],
    caches: &[Cache],
    e: &PrivateEndpointSpec,
) -> Result<PrivateEndpoint, ScenarioError> {
    let name = e.name.get_ref().clone();
    let cache = caches
        .iter()
        .find(|c| &c.name == e.cache.get_ref())
        .ok_or_else(|| {
            src.error(
                &e.cache.span(),
                ScenarioErrorKind::UnknownReference,
                format!("no cache named {}", e.cache.get_ref()),
            )
        })?;
    let net_index = networks
        .iter()
        .position(|n| &n.name == e.network.get_ref())
        .and_then(index)
        .ok_or_else(|| {
            src.error(
                &e.network.span(),
                ScenarioErrorKind::UnknownReference,
                format!("no network named {}", e.network.get_ref()),
            )
        })?;
    let address = alloc.pinned_or_next(
        e.address.as_ref(),
        (FIRST_ENDPOINT_HOST..=254).map(|m| plan.private_endpoint(net_index, m)),
        src,
        &e.name.span(),
        || format!("private endpoint {name} in network {}", e.network.get_ref()),
    )?;
    Ok(PrivateEndpoint {
        name,
        network: e.network.get_ref().clone(),
        cache: cache.name.clone(),
        group_id: e
            .group_id
            .as_ref()
            .map_or_else(|| cache.group_id().to_owned(), |g| g.get_ref().clone()),
        state: e.state,
        address,
    })
}

/// A `[[dns_zone]]`: its declared records, the registered ones, its links.
fn dns_zone(
    src: &ScenarioText,
    caches: &[Cache],
    endpoints: &[PrivateEndpoint],
    z: &DnsZoneSpec,
) -> Result<DnsZone, ScenarioError> {
    let zone_name = normalize_name(z.name.get_ref());
    let mut records = z
        .records
        .iter()
        .map(|r| {
            // Validation made sure there is exactly one of `address` and a declared `endpoint`.
            let address = match (&r.address, &r.endpoint) {
                (Some(a), _) => *a.get_ref(),
                (None, Some(e)) => endpoints
                    .iter()
                    .find(|p| &p.name == e.get_ref())
                    .map(|p| p.address)
                    .ok_or_else(|| {
                        src.error(
                            &e.span(),
                            ScenarioErrorKind::UnknownReference,
                            format!("no private endpoint named {}", e.get_ref()),
                        )
                    })?,
                (None, None) => {
                    return Err(src.error(
                        &r.name.span(),
                        ScenarioErrorKind::Invalid,
                        "a record needs `address` or `endpoint`".to_owned(),
                    ));
                }
            };
            Ok(ARecord {
                name: relative_record_name(src, &zone_name, &r.name)?,
                address,
                ttl: r.ttl.unwrap_or(ttl::PRIVATE_RECORD),
                registered_by: None,
            })
        })
        .collect::<Result<Vec<_>, ScenarioError>>()?;
    if z.auto_register {
        auto_register(&zone_name, caches, endpoints, &mut records);
    }
    let links = z
        .links
        .iter()
        .map(|l| ZoneLink {
            name: l.name.as_ref().map_or_else(
                || default_link_name(l.network.get_ref()),
                |n| n.get_ref().clone(),
            ),
            network: l.network.get_ref().clone(),
            resolution_policy: l.resolution_policy,
        })
        .collect();
    Ok(DnsZone {
        name: zone_name,
        resource_group: z.resource_group.as_ref().map(|g| g.get_ref().clone()),
        records,
        links,
    })
}

/// Azure's DNS zone group: each endpoint of a cache whose flavour uses `zone` registers the cache's
/// A record, unless the zone declares that name itself; a later endpoint of the cache replaces an
/// earlier one's record.
fn auto_register(
    zone: &str,
    caches: &[Cache],
    endpoints: &[PrivateEndpoint],
    records: &mut Vec<ARecord>,
) {
    let declared: HashSet<String> = records.iter().map(|r| r.name.clone()).collect();
    for e in endpoints {
        let Some(cache) = caches.iter().find(|c| c.name == e.cache) else {
            continue;
        };
        if cache.flavour.private_zone() != zone {
            continue;
        }
        let relative = cache.relative_name();
        if declared.contains(&relative) {
            continue;
        }
        records.retain(|r| r.name != relative);
        records.push(ARecord {
            name: relative,
            address: e.address,
            ttl: ttl::PRIVATE_RECORD,
            registered_by: Some(e.name.clone()),
        });
    }
}

/// A `[[network_rule]]` (deny as drop unless it says otherwise).
fn network_rule(r: &NetworkRuleSpec) -> NetworkRule {
    NetworkRule {
        name: r.name.get_ref().clone(),
        priority: *r.priority.get_ref(),
        source: r.source.as_ref().map(|x| x.get_ref().clone()),
        destination: r.destination.as_ref().map(|x| x.get_ref().clone()),
        port: r.port,
        action: r.action,
        deny_as: r.deny_as.as_ref().map(|d| *d.get_ref()).unwrap_or_default(),
    }
}

/// A `[[toxic]]`, its kind parsed from the table's numbers.
fn toxic(src: &ScenarioText, t: &crate::toxic::ToxicSpec) -> Result<Toxic, ScenarioError> {
    let kind = t
        .toxic_kind()
        .map_err(|m| src.error(&t.kind.span(), ScenarioErrorKind::Invalid, m))?;
    Ok(Toxic {
        name: t.name.get_ref().clone(),
        endpoint: t.endpoint.as_ref().map(|e| e.get_ref().clone()),
        network: t.network.as_ref().map(|n| n.get_ref().clone()),
        kind,
        direction: t.direction,
        toxicity: t.toxicity.unwrap_or_default(),
    })
}
