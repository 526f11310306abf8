//! Building a [`World`] from a [`Scenario`]: applying Azure's defaults and allocating every address
//! the file does not pin from an [`AddressPlan`].

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::Range;

use crate::address::{AddressPlan, FIRST_ENDPOINT_HOST};
use crate::error::{ScenarioError, ScenarioErrorKind};
use crate::flavour::Flavour;
use crate::model::{
    ARecord, Cache, CachePorts, DnsZone, FirewallRule, Forwarder, ForwarderAnswer, Network,
    NetworkRule, PrivateEndpoint, PublicNetworkAccess, World, ZoneLink,
};
use crate::names::{DEFAULT_FORWARDER_NAME, default_link_name, normalize_name};
use crate::scenario::{Scenario, relative_record_name};
use crate::ttl;

/// Hands out addresses that nothing pinned.
struct Allocator {
    taken: HashSet<Ipv4Addr>,
}

impl Allocator {
    fn next(&mut self, candidates: impl Iterator<Item = Ipv4Addr>) -> Option<Ipv4Addr> {
        let found = candidates.into_iter().find(|a| !self.taken.contains(a))?;
        self.taken.insert(found);
        Some(found)
    }
}

fn exhausted(s: &Scenario, span: &Range<usize>, what: String) -> ScenarioError {
    s.error(
        span,
        ScenarioErrorKind::Invalid,
        format!("the address plan has no free address left for {what}"),
    )
}

fn index(i: usize) -> Option<u8> {
    u8::try_from(i + 1).ok().filter(|n| *n < 255)
}

impl World {
    /// Builds the world `scenario` describes, allocating unpinned addresses from `plan`.
    ///
    /// Defaults applied here: a cache's public network access is Disabled when the scenario gives it a
    /// private endpoint and Enabled otherwise; peering is made symmetric; every zone with
    /// `auto_register` gets an A record (TTL 10) for each private endpoint of a cache whose flavour uses
    /// that zone, unless the zone declares records of that name itself (when several endpoints of one
    /// cache register, the last in file order wins, as Azure's zone groups overwrite each other).
    pub fn build(scenario: &Scenario, plan: &AddressPlan) -> Result<World, ScenarioError> {
        let s = &scenario.spec;
        let mut alloc = Allocator {
            taken: HashSet::new(),
        };
        for n in &s.networks {
            alloc
                .taken
                .extend(n.resolver_address.iter().map(|a| *a.get_ref()));
            alloc
                .taken
                .extend(n.client_address.iter().map(|a| *a.get_ref()));
        }
        alloc.taken.extend(
            s.caches
                .iter()
                .filter_map(|c| c.public_address.as_ref())
                .map(|a| *a.get_ref()),
        );
        alloc.taken.extend(
            s.private_endpoints
                .iter()
                .filter_map(|e| e.address.as_ref())
                .map(|a| *a.get_ref()),
        );

        let mut networks = Vec::with_capacity(s.networks.len());
        for (i, n) in s.networks.iter().enumerate() {
            let name = n.name.get_ref().clone();
            if index(i).is_none() {
                return Err(exhausted(
                    scenario,
                    &n.name.span(),
                    format!("network {name} (at most 254 networks)"),
                ));
            }
            let resolver = match &n.resolver_address {
                Some(a) => *a.get_ref(),
                None => alloc
                    .next((1..=254).map(|k| plan.resolver(k)))
                    .ok_or_else(|| {
                        exhausted(
                            scenario,
                            &n.name.span(),
                            format!("the resolver of network {name}"),
                        )
                    })?,
            };
            let client_address = match &n.client_address {
                Some(a) => *a.get_ref(),
                None => alloc
                    .next((1..=254).map(|k| plan.client(k)))
                    .ok_or_else(|| {
                        exhausted(
                            scenario,
                            &n.name.span(),
                            format!("the client address of network {name}"),
                        )
                    })?,
            };
            let forwarder = n.dns_forwarder.as_ref().map(|f| Forwarder {
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
            });
            networks.push(Network {
                name,
                resolver,
                resolver_port: n.resolver_port,
                client_address,
                peered_with: n.peered_with.iter().map(|p| p.get_ref().clone()).collect(),
                forwarder,
            });
        }
        // Peering is symmetric.
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

        let mut caches = Vec::with_capacity(s.caches.len());
        for (i, c) in s.caches.iter().enumerate() {
            let name = c.name.get_ref().clone();
            if index(i).is_none() {
                return Err(exhausted(
                    scenario,
                    &c.name.span(),
                    format!("cache {name} (at most 254 caches)"),
                ));
            }
            let public_address = match &c.public_address {
                Some(a) => *a.get_ref(),
                None => alloc
                    .next((1..=254).map(|k| plan.public(k)))
                    .ok_or_else(|| {
                        exhausted(
                            scenario,
                            &c.name.span(),
                            format!("the public endpoint of cache {name}"),
                        )
                    })?,
            };
            let has_endpoint = s
                .private_endpoints
                .iter()
                .any(|e| e.cache.get_ref() == &name);
            let ports = match c.flavour {
                Flavour::RedisCache | Flavour::ManagedRedis => CachePorts {
                    plain: c
                        .non_tls_port
                        .then(|| c.port.unwrap_or(c.flavour.default_port())),
                    tls: c
                        .tls
                        .then(|| c.tls_port.unwrap_or(c.flavour.default_tls_port())),
                },
            };
            caches.push(Cache {
                name,
                flavour: c.flavour,
                region: c.region.as_ref().map(|r| r.get_ref().clone()),
                requirepass: c.requirepass.clone(),
                users: c
                    .user
                    .iter()
                    .map(|u| crate::model::CacheUser {
                        name: u.name.get_ref().clone(),
                        password: u.password.clone(),
                        rules: u
                            .rules
                            .as_ref()
                            .map(|r| r.get_ref().clone())
                            .unwrap_or_default(),
                    })
                    .collect(),
                maxclients: c.maxclients,
                bind: c.bind.clone(),
                ports,
                public_network_access: c.public_network_access.unwrap_or(if has_endpoint {
                    PublicNetworkAccess::Disabled
                } else {
                    PublicNetworkAccess::Enabled
                }),
                public_blocked_action: c.public_blocked_action,
                firewall_rules: c
                    .firewall_rules
                    .iter()
                    .map(|r| FirewallRule {
                        name: r.name.get_ref().clone(),
                        start: *r.start.get_ref(),
                        end: *r.end.get_ref(),
                    })
                    .collect(),
                running: c.running,
                public_address,
            });
        }

        let mut private_endpoints = Vec::with_capacity(s.private_endpoints.len());
        for e in &s.private_endpoints {
            let name = e.name.get_ref().clone();
            let cache = caches
                .iter()
                .find(|c| &c.name == e.cache.get_ref())
                .ok_or_else(|| {
                    scenario.error(
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
                    scenario.error(
                        &e.network.span(),
                        ScenarioErrorKind::UnknownReference,
                        format!("no network named {}", e.network.get_ref()),
                    )
                })?;
            let address = match &e.address {
                Some(a) => *a.get_ref(),
                None => alloc
                    .next((FIRST_ENDPOINT_HOST..=254).map(|m| plan.private_endpoint(net_index, m)))
                    .ok_or_else(|| {
                        exhausted(
                            scenario,
                            &e.name.span(),
                            format!("private endpoint {name} in network {}", e.network.get_ref()),
                        )
                    })?,
            };
            private_endpoints.push(PrivateEndpoint {
                name,
                network: e.network.get_ref().clone(),
                cache: cache.name.clone(),
                group_id: e
                    .group_id
                    .as_ref()
                    .map_or_else(|| cache.group_id().to_owned(), |g| g.get_ref().clone()),
                state: e.state,
                address,
            });
        }

        let mut dns_zones = Vec::with_capacity(s.dns_zones.len());
        for z in &s.dns_zones {
            let zone_name = normalize_name(z.name.get_ref());
            let mut records = Vec::new();
            for r in &z.records {
                records.push(ARecord {
                    name: relative_record_name(scenario, &zone_name, &r.name)?,
                    address: *r.address.get_ref(),
                    ttl: r.ttl.unwrap_or(ttl::PRIVATE_RECORD),
                    registered_by: None,
                });
            }
            if z.auto_register {
                let declared: HashSet<String> = records.iter().map(|r| r.name.clone()).collect();
                for e in &private_endpoints {
                    let Some(cache) = caches.iter().find(|c| c.name == e.cache) else {
                        continue;
                    };
                    if cache.flavour.private_zone() != zone_name {
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
            dns_zones.push(DnsZone {
                name: zone_name,
                records,
                links,
            });
        }

        let network_rules = s
            .network_rules
            .iter()
            .map(|r| NetworkRule {
                name: r.name.get_ref().clone(),
                priority: *r.priority.get_ref(),
                source: r.source.as_ref().map(|x| x.get_ref().clone()),
                destination: r.destination.as_ref().map(|x| x.get_ref().clone()),
                port: r.port,
                action: r.action,
                deny_as: r.deny_as.as_ref().map(|d| *d.get_ref()).unwrap_or_default(),
            })
            .collect();

        let mut toxics = Vec::with_capacity(s.toxics.len());
        for t in &s.toxics {
            let kind = t
                .toxic_kind()
                .map_err(|m| scenario.error(&t.kind.span(), ScenarioErrorKind::Invalid, m))?;
            toxics.push(crate::toxic::Toxic {
                name: t.name.get_ref().clone(),
                endpoint: t.endpoint.as_ref().map(|e| e.get_ref().clone()),
                network: t.network.as_ref().map(|n| n.get_ref().clone()),
                kind,
                direction: t.direction,
            });
        }

        Ok(World {
            name: s.name.clone(),
            plan: *plan,
            networks,
            caches,
            private_endpoints,
            dns_zones,
            network_rules,
            toxics,
        })
    }
}
