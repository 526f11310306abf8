//! Name resolution as Azure does it, seen from one network: the pure function [`resolve`] returns the
//! answer (CNAME chain + A records, NODATA, NXDOMAIN or REFUSED) and the steps that explain it.
//!
//! The rules, in order, for each name of the chain:
//! 1. A network with a custom DNS forwarder: the forwarder's static table answers first (possibly a
//!    stale address). Everything else it forwards: by its conditional forwarding rule for the name
//!    (longest zone; `"internet"` = public DNS only), else to Azure-provided DNS as seen from the
//!    network it forwards to (by default its own).
//! 2. Azure-provided DNS of a network: if a private DNS zone that contains the name is linked to the
//!    network, the zone answers: its A records; no record → NXDOMAIN, unless the link's resolution
//!    policy is `NxDomainRedirect` (then public resolution). The longest linked zone wins.
//! 3. Public resolution: `NAME.redis.cache.windows.net` (or `NAME.REGION.redis.azure.net`) is a CNAME
//!    to `NAME.privatelink.redis.cache.windows.net` (`NAME.REGION.privatelink.redis.azure.net`) once
//!    the cache has a private endpoint (in any state), otherwise an A record of the public address.
//!    The privatelink name resolves publicly to the public address. Other names under the simulated
//!    suffixes or under a declared zone → NXDOMAIN.
//! 4. Names outside every simulated zone → **REFUSED**: the simulated resolver is authoritative for
//!    the simulated zones only and never forwards anywhere (so nothing leaves the machine, and a client
//!    does not cache a false "does not exist").
//!
//! TTLs: see [`crate::ttl`].

use std::fmt;
use std::net::Ipv4Addr;

use crate::flavour::Flavour;
use crate::model::{
    AddressOwner, ConnectionState, DnsZone, FORWARD_TO_INTERNET, Network, ResolutionPolicy, World,
    ZoneLink,
};
use crate::names::{in_zone, normalize_name};
use crate::ttl;

/// The longest CNAME chain followed before giving up (a loop guard; Azure chains have one CNAME).
pub const MAX_CHAIN: usize = 8;

/// The query types resolution distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// IPv4 address.
    A,
    /// IPv6 address (the simulated world has none: NODATA after the CNAME chain).
    Aaaa,
    /// The CNAME itself (not followed).
    Cname,
    /// Any other type (NODATA after the CNAME chain).
    Other(u16),
}

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordData {
    /// An alias to another name.
    Cname(String),
    /// An IPv4 address.
    A(Ipv4Addr),
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// Owner name, lowercase, no trailing dot.
    pub name: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Data.
    pub data: RecordData,
}

/// Whether a zone is one of Azure's public zones or a private DNS zone (it chooses the SOA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// A public zone (`redis.cache.windows.net`…).
    Public,
    /// A private DNS zone of the world.
    Private,
}

/// The zone an answer is authoritative from (its SOA goes into NXDOMAIN/NODATA replies).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    /// Zone name.
    pub zone: String,
    /// Public or private.
    pub kind: ZoneKind,
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR. `records` is the CNAME chain followed by the A records; a chain without a final A
    /// record (an AAAA query, say) is NODATA.
    Records {
        /// Answer records, in chain order.
        records: Vec<Record>,
        /// The zone that gave the last answer.
        authority: Authority,
    },
    /// NXDOMAIN for the last name of the chain (the CNAMEs before it are still answered).
    NxDomain {
        /// CNAMEs followed before the missing name.
        records: Vec<Record>,
        /// The zone that says the name does not exist.
        authority: Authority,
    },
    /// REFUSED: the name is outside every simulated zone.
    Refused,
}

/// One step of the explanation of a resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The network does not exist.
    UnknownNetwork {
        /// The name asked for.
        network: String,
    },
    /// The forwarder answered from its static table.
    ForwarderAnswer {
        /// The network using the forwarder.
        network: String,
        /// Forwarder name.
        forwarder: String,
        /// The name answered.
        name: String,
        /// The address.
        address: Ipv4Addr,
        /// Who owns that address now (None: nobody — a stale answer).
        owner: Option<AddressOwner>,
    },
    /// The forwarder passed the name on to Azure-provided DNS of a network.
    Forwarded {
        /// The network using the forwarder.
        network: String,
        /// Forwarder name.
        forwarder: String,
        /// The name.
        name: String,
        /// The network whose Azure DNS view answers.
        view: String,
        /// The zone of the conditional forwarding rule that chose `view`, if one did.
        rule: Option<String>,
    },
    /// A conditional forwarding rule sent the name to public (internet) DNS: no private zone of
    /// any network applies.
    ForwardedToInternet {
        /// The network using the forwarder.
        network: String,
        /// Forwarder name.
        forwarder: String,
        /// The name.
        name: String,
        /// The rule's zone (`.` = every name).
        rule: String,
    },
    /// The network's resolver answered the name from its cache: the steps after this one (up to
    /// the next `Cached` or the end) explain the answer as it was when cached.
    Cached {
        /// The network whose resolver cached it.
        network: String,
        /// The name.
        name: String,
        /// How long ago it was cached (seconds).
        age_s: u64,
        /// How many seconds of its TTL are left.
        remaining_s: u32,
    },
    /// A linked private zone held the record.
    ZoneRecord {
        /// The network whose view this is.
        network: String,
        /// Zone.
        zone: String,
        /// Link.
        link: String,
        /// The name.
        name: String,
        /// The addresses.
        addresses: Vec<Ipv4Addr>,
        /// The endpoint that registered the record, if registered by a zone group.
        registered_by: Option<String>,
        /// Who owns the (first) address now (None: nobody — a stale record).
        owner: Option<AddressOwner>,
    },
    /// A linked private zone has no record for the name: NXDOMAIN.
    ZoneRecordMissing {
        /// The network whose view this is.
        network: String,
        /// Zone.
        zone: String,
        /// Link.
        link: String,
        /// The name.
        name: String,
    },
    /// A linked zone has no record, but the link's policy sends the name to public resolution.
    NxDomainRedirect {
        /// The network whose view this is.
        network: String,
        /// Zone.
        zone: String,
        /// Link.
        link: String,
        /// The name.
        name: String,
    },
    /// The name lies in a private zone (declared or Azure's) that is not linked to the network.
    ZoneNotLinked {
        /// The network whose view this is.
        network: String,
        /// The zone.
        zone: String,
        /// Whether the world has a zone of that name at all.
        zone_exists: bool,
    },
    /// Public DNS: the cache has private endpoints, so its name is a CNAME of the privatelink name.
    PrivatelinkCname {
        /// The public name.
        name: String,
        /// The privatelink name.
        target: String,
        /// The cache.
        cache: String,
        /// Its private endpoints (name and state).
        endpoints: Vec<(String, ConnectionState)>,
    },
    /// Public DNS: the public address of a cache.
    PublicAddress {
        /// The name.
        name: String,
        /// The cache.
        cache: String,
        /// The address.
        address: Ipv4Addr,
        /// True when the cache has no private endpoint (so no privatelink CNAME).
        no_private_endpoint: bool,
    },
    /// Public DNS: the name does not exist in a simulated public zone.
    PublicNxDomain {
        /// The name.
        name: String,
        /// The zone.
        zone: String,
    },
    /// The name is a zone apex: it exists but has no A record.
    ZoneApex {
        /// The zone.
        zone: String,
    },
    /// The name is outside every simulated zone: REFUSED, never forwarded.
    OutsideSimulation {
        /// The name.
        name: String,
    },
    /// The CNAME chain was too long.
    ChainTooLong {
        /// The name where it stopped.
        name: String,
    },
}

fn owner_note(owner: &Option<AddressOwner>) -> String {
    match owner {
        Some(o) => format!("the address of {o}"),
        None => "an address no endpoint of the world has (stale)".to_owned(),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::UnknownNetwork { network } => {
                write!(f, "there is no network named {network}: refused")
            }
            Step::ForwarderAnswer {
                network,
                forwarder,
                name,
                address,
                owner,
            } => write!(
                f,
                "{network} uses the custom DNS forwarder {forwarder}, which answers {name} from its static table with {address} ({})",
                owner_note(owner)
            ),
            Step::Forwarded {
                network,
                forwarder,
                name,
                view,
                rule: Some(zone),
            } => write!(
                f,
                "{network} uses the custom DNS forwarder {forwarder}, whose conditional forwarding rule for {zone} sends {name} to Azure-provided DNS of {view}: {view}'s zone links apply"
            ),
            Step::ForwardedToInternet {
                network,
                forwarder,
                name,
                rule,
            } => write!(
                f,
                "{network} uses the custom DNS forwarder {forwarder}, whose conditional forwarding rule for {rule} sends {name} to internet DNS: no private zone applies"
            ),
            Step::Cached {
                network,
                name,
                age_s,
                remaining_s,
            } => write!(
                f,
                "{network}'s resolver answered {name} from its cache (cached {age_s} s ago, {remaining_s} s of TTL left); when cached:"
            ),
            Step::Forwarded {
                network,
                forwarder,
                name,
                view,
                rule: None,
            } if network == view => write!(
                f,
                "{network} uses the custom DNS forwarder {forwarder}, which has no static answer for {name} and forwards it to Azure-provided DNS of {view}"
            ),
            Step::Forwarded {
                network,
                forwarder,
                name,
                view,
                rule: None,
            } => write!(
                f,
                "{network} uses the custom DNS forwarder {forwarder} (in {view}), which has no static answer for {name} and forwards it to Azure-provided DNS of {view}: {view}'s zone links apply, not {network}'s"
            ),
            Step::ZoneRecord {
                network,
                zone,
                link,
                name,
                addresses,
                registered_by,
                owner,
            } => {
                let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "zone {zone} is linked to {network} (link {link}) and holds {name} → {}",
                    list.join(", ")
                )?;
                if let Some(e) = registered_by {
                    write!(f, " (registered by private endpoint {e})")?;
                }
                write!(f, ": {}", owner_note(owner))
            }
            Step::ZoneRecordMissing {
                network,
                zone,
                link,
                name,
            } => write!(
                f,
                "zone {zone} is linked to {network} (link {link}) but has no record for {name}, and the link's resolution policy is Default: NXDOMAIN"
            ),
            Step::NxDomainRedirect {
                network,
                zone,
                link,
                name,
            } => write!(
                f,
                "zone {zone} is linked to {network} (link {link}) but has no record for {name}; the link's resolution policy is NxDomainRedirect, so public DNS answers"
            ),
            Step::ZoneNotLinked {
                network,
                zone,
                zone_exists: true,
            } => {
                write!(
                    f,
                    "zone {zone} is not linked to {network}, so public DNS answers"
                )
            }
            Step::ZoneNotLinked {
                network,
                zone,
                zone_exists: false,
            } => write!(
                f,
                "zone {zone} is not linked to {network} (the world has no zone of that name), so public DNS answers"
            ),
            Step::PrivatelinkCname {
                name,
                target,
                cache,
                endpoints,
            } => {
                let list: Vec<String> = endpoints
                    .iter()
                    .map(|(n, s)| format!("{n} ({s})"))
                    .collect();
                write!(
                    f,
                    "public DNS: {name} is a CNAME of {target} because cache {cache} has private endpoints: {}",
                    list.join(", ")
                )
            }
            Step::PublicAddress {
                name,
                cache,
                address,
                no_private_endpoint,
            } => {
                write!(
                    f,
                    "public DNS: {name} → {address}, the public address of cache {cache}"
                )?;
                if *no_private_endpoint {
                    write!(
                        f,
                        " (the cache has no private endpoint, so no privatelink CNAME)"
                    )?;
                }
                Ok(())
            }
            Step::PublicNxDomain { name, zone } => {
                write!(
                    f,
                    "public DNS: {name} does not exist in zone {zone}: NXDOMAIN"
                )
            }
            Step::ZoneApex { zone } => {
                write!(f, "{zone} is a zone apex: it has no address (NODATA)")
            }
            Step::OutsideSimulation { name } => write!(
                f,
                "{name} is outside every simulated zone: REFUSED (the simulated resolver never forwards a query off the machine)"
            ),
            Step::ChainTooLong { name } => {
                write!(
                    f,
                    "the CNAME chain is longer than {MAX_CHAIN} names at {name}: giving up"
                )
            }
        }
    }
}

/// The result of [`resolve`]: the answer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The network whose resolver was asked.
    pub network: String,
    /// The name asked (normalized: lowercase, no trailing dot).
    pub qname: String,
    /// The type asked.
    pub qtype: QueryType,
    /// The answer.
    pub answer: Answer,
    /// The steps, in the order they happened.
    pub explanation: Vec<Step>,
}

/// How a resolution ended, classified by who owns the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An address (the first A record at the end of the chain).
    Address {
        /// The address.
        address: Ipv4Addr,
        /// Who owns it (None: nobody).
        owner: Option<AddressOwner>,
    },
    /// The name exists but has no record of the type asked.
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// REFUSED.
    Refused,
}

impl Resolution {
    /// The answer records (CNAMEs and As), empty for REFUSED.
    pub fn records(&self) -> &[Record] {
        match &self.answer {
            Answer::Records { records, .. } | Answer::NxDomain { records, .. } => records,
            Answer::Refused => &[],
        }
    }

    /// The A addresses at the end of the chain.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        self.records()
            .iter()
            .filter_map(|r| match r.data {
                RecordData::A(a) => Some(a),
                RecordData::Cname(_) => None,
            })
            .collect()
    }

    /// How the resolution ended.
    pub fn outcome(&self, world: &World) -> Outcome {
        match &self.answer {
            Answer::Refused => Outcome::Refused,
            Answer::NxDomain { .. } => Outcome::NxDomain,
            Answer::Records { .. } => match self.addresses().first() {
                Some(&address) => Outcome::Address {
                    address,
                    owner: world.address_owner(address),
                },
                None => Outcome::NoData,
            },
        }
    }

    /// One sentence: what the network got and the decisive reason, e.g. "spoke resolved
    /// contoso.redis.cache.windows.net to 127.20.0.1, the public address of cache contoso, because
    /// zone privatelink.redis.cache.windows.net is not linked to spoke".
    pub fn summary(&self) -> String {
        let net = &self.network;
        let q = &self.qname;
        let reason = self
            .explanation
            .iter()
            .rev()
            .find_map(|s| decisive_reason(s, net));
        let what = match &self.answer {
            Answer::Refused => format!("{net} got REFUSED for {q}"),
            Answer::NxDomain { .. } => format!("{net} got NXDOMAIN for {q}"),
            Answer::Records { .. } => match self.addresses().first() {
                None => format!(
                    "{net} got no {} record for {q} (NODATA)",
                    qtype_name(self.qtype)
                ),
                Some(a) => {
                    let owner = self.explanation.iter().rev().find_map(|s| match s {
                        Step::ZoneRecord { owner, .. } | Step::ForwarderAnswer { owner, .. } => {
                            Some(owner_note(owner))
                        }
                        Step::PublicAddress { cache, .. } => {
                            Some(format!("the public address of cache {cache}"))
                        }
                        _ => None,
                    });
                    match owner {
                        Some(o) => format!("{net} resolved {q} to {a}, {o}"),
                        None => format!("{net} resolved {q} to {a}"),
                    }
                }
            },
        };
        let cached = self.explanation.iter().find_map(|s| match s {
            Step::Cached {
                name,
                age_s,
                remaining_s,
                ..
            } => Some(format!(
                " (answered from {net}'s DNS cache: {name} cached {age_s} s ago, {remaining_s} s of TTL left)"
            )),
            _ => None,
        });
        let what = what + cached.as_deref().unwrap_or("");
        match reason {
            Some(r) => format!("{what}, because {r}"),
            None => what,
        }
    }

    /// The explanation as sentences.
    pub fn explanation_lines(&self) -> Vec<String> {
        self.explanation.iter().map(ToString::to_string).collect()
    }
}

fn qtype_name(t: QueryType) -> String {
    match t {
        QueryType::A => "A".to_owned(),
        QueryType::Aaaa => "AAAA".to_owned(),
        QueryType::Cname => "CNAME".to_owned(),
        QueryType::Other(n) => format!("TYPE{n}"),
    }
}

fn decisive_reason(step: &Step, net: &str) -> Option<String> {
    Some(match step {
        Step::UnknownNetwork { .. } => "there is no such network".to_owned(),
        Step::ForwarderAnswer { forwarder, .. } => {
            format!("{net}'s custom DNS forwarder {forwarder} answers it from its static table")
        }
        Step::ZoneRecord {
            zone,
            link,
            network,
            ..
        } => {
            format!("zone {zone} is linked to {network} (link {link}) and holds the record")
        }
        Step::ZoneRecordMissing {
            zone,
            link,
            network,
            name,
        } => format!(
            "zone {zone} is linked to {network} (link {link}) but has no record for {name} (resolution policy Default)"
        ),
        Step::NxDomainRedirect {
            zone,
            link,
            network,
            name,
        } => format!(
            "zone {zone} is linked to {network} (link {link}) without a record for {name}, and the link's resolution policy NxDomainRedirect falls back to public DNS"
        ),
        Step::ZoneNotLinked {
            zone,
            network,
            zone_exists,
        } => {
            if *zone_exists {
                format!("zone {zone} is not linked to {network}")
            } else {
                format!("zone {zone} is not linked to {network} (no such zone in the world)")
            }
        }
        Step::PublicAddress {
            cache,
            no_private_endpoint: true,
            ..
        } => {
            format!(
                "cache {cache} has no private endpoint, so public DNS answers its name directly"
            )
        }
        Step::PublicNxDomain { zone, .. } => format!("public zone {zone} has no such name"),
        Step::ZoneApex { zone } => format!("{zone} is a zone apex"),
        Step::OutsideSimulation { .. } => "the name is outside every simulated zone".to_owned(),
        Step::ChainTooLong { .. } => "the CNAME chain is too long".to_owned(),
        Step::ForwardedToInternet {
            forwarder, rule, ..
        } => format!(
            "{net}'s custom DNS forwarder {forwarder} sends {rule} to internet DNS, where no private zone applies"
        ),
        _ => return None,
    })
}

/// What one name resolved to in one DNS view (TTLs in seconds).
#[derive(Clone, Debug)]
pub(crate) enum Lookup {
    Addresses(Vec<Ipv4Addr>, u32, Authority),
    Cname(String, u32, Authority),
    NoData(Authority),
    NxDomain(Authority),
    Refused,
}

/// Resolves `qname` of type `qtype` as a client in `network` would. Pure and total: unknown networks
/// and names outside the simulation are REFUSED with an explanation.
pub fn resolve(world: &World, network: &str, qname: &str, qtype: QueryType) -> Resolution {
    resolve_with(world, network, qname, qtype, &mut lookup)
}

/// How one name of a chain is looked up in a network's view (the plain [`lookup`], or a cache first).
pub(crate) type LookupFn<'a> = dyn FnMut(&World, &Network, &str, &mut Vec<Step>) -> Lookup + 'a;

/// [`resolve`] with each name of the chain looked up by `look` (a caching resolver's cache first:
/// [`crate::resolver_cache`]).
pub(crate) fn resolve_with(
    world: &World,
    network: &str,
    qname: &str,
    qtype: QueryType,
    look: &mut LookupFn<'_>,
) -> Resolution {
    let qname = normalize_name(qname);
    let mut explanation = Vec::new();
    let mut records = Vec::new();
    let done = |answer: Answer, explanation: Vec<Step>| Resolution {
        network: network.to_owned(),
        qname: qname.clone(),
        qtype,
        answer,
        explanation,
    };
    let Some(net) = world.network(network) else {
        explanation.push(Step::UnknownNetwork {
            network: network.to_owned(),
        });
        return done(Answer::Refused, explanation);
    };
    let mut name = qname.clone();
    for _ in 0..MAX_CHAIN {
        match look(world, net, &name, &mut explanation) {
            Lookup::Addresses(addresses, ttl, authority) => {
                if qtype == QueryType::A {
                    records.extend(addresses.into_iter().map(|a| Record {
                        name: name.clone(),
                        ttl,
                        data: RecordData::A(a),
                    }));
                }
                return done(Answer::Records { records, authority }, explanation);
            }
            Lookup::Cname(target, ttl, authority) => {
                records.push(Record {
                    name: name.clone(),
                    ttl,
                    data: RecordData::Cname(target.clone()),
                });
                if qtype == QueryType::Cname {
                    return done(Answer::Records { records, authority }, explanation);
                }
                name = target;
            }
            Lookup::NoData(authority) => {
                return done(Answer::Records { records, authority }, explanation);
            }
            Lookup::NxDomain(authority) => {
                return done(Answer::NxDomain { records, authority }, explanation);
            }
            Lookup::Refused => return done(Answer::Refused, explanation),
        }
    }
    explanation.push(Step::ChainTooLong { name });
    done(Answer::Refused, explanation)
}

/// One name, as the network's resolver sees it: forwarder first, then Azure-provided DNS.
pub(crate) fn lookup(
    world: &World,
    net: &Network,
    name: &str,
    explanation: &mut Vec<Step>,
) -> Lookup {
    let mut view = net;
    if let Some(fwd) = &net.forwarder {
        if let Some(answer) = fwd.answers.get(name) {
            explanation.push(Step::ForwarderAnswer {
                network: net.name.clone(),
                forwarder: fwd.name.clone(),
                name: name.to_owned(),
                address: answer.address,
                owner: world.address_owner(answer.address),
            });
            return Lookup::Addresses(vec![answer.address], answer.ttl, authority_for(world, name));
        }
        let rule = fwd.rule_for(name);
        if let Some(r) = rule
            && r.to == FORWARD_TO_INTERNET
        {
            explanation.push(Step::ForwardedToInternet {
                network: net.name.clone(),
                forwarder: fwd.name.clone(),
                name: name.to_owned(),
                rule: r.zone.clone(),
            });
            return public_dns(world, name, explanation);
        }
        let target = rule
            .map(|r| r.to.as_str())
            .or(fwd.forwards_to.as_deref())
            .and_then(|t| world.network(t))
            .unwrap_or(net);
        explanation.push(Step::Forwarded {
            network: net.name.clone(),
            forwarder: fwd.name.clone(),
            name: name.to_owned(),
            view: target.name.clone(),
            rule: rule.map(|r| r.zone.clone()),
        });
        view = target;
    }
    azure_dns(world, view, name, explanation)
}

/// Azure-provided DNS (168.63.129.16) as seen from `view`.
fn azure_dns(world: &World, view: &Network, name: &str, explanation: &mut Vec<Step>) -> Lookup {
    let linked: Option<(&DnsZone, &ZoneLink, String)> = world
        .dns_zones
        .iter()
        .filter_map(|z| Some((z, z.link_to(&view.name)?, z.relative(name)?)))
        .max_by_key(|(z, _, _)| z.name.len());
    if let Some((zone, link, relative)) = linked {
        let authority = Authority {
            zone: zone.name.clone(),
            kind: ZoneKind::Private,
        };
        let label = zone.label();
        let found: Vec<_> = zone.records_named(&relative).collect();
        if let Some(first) = found.first() {
            let addresses: Vec<Ipv4Addr> = found.iter().map(|r| r.address).collect();
            explanation.push(Step::ZoneRecord {
                network: view.name.clone(),
                zone: label.clone(),
                link: link.name.clone(),
                name: name.to_owned(),
                addresses: addresses.clone(),
                registered_by: first.registered_by.clone(),
                owner: world.address_owner(first.address),
            });
            return Lookup::Addresses(addresses, first.ttl, authority);
        }
        if relative == "@" {
            explanation.push(Step::ZoneApex {
                zone: zone.name.clone(),
            });
            return Lookup::NoData(authority);
        }
        match link.resolution_policy {
            ResolutionPolicy::Default => {
                explanation.push(Step::ZoneRecordMissing {
                    network: view.name.clone(),
                    zone: label.clone(),
                    link: link.name.clone(),
                    name: name.to_owned(),
                });
                return Lookup::NxDomain(authority);
            }
            ResolutionPolicy::NxDomainRedirect => explanation.push(Step::NxDomainRedirect {
                network: view.name.clone(),
                zone: label.clone(),
                link: link.name.clone(),
                name: name.to_owned(),
            }),
        }
    } else if let Some(zone) = private_zone_containing(world, name) {
        explanation.push(Step::ZoneNotLinked {
            network: view.name.clone(),
            zone: zone.clone(),
            zone_exists: world.dns_zones.iter().any(|z| z.name == zone),
        });
    }
    public_dns(world, name, explanation)
}

/// The private zone (declared, or Azure's privatelink zone of a flavour) that contains `name`.
fn private_zone_containing(world: &World, name: &str) -> Option<String> {
    let declared = world
        .dns_zones
        .iter()
        .filter(|z| z.relative(name).is_some())
        .max_by_key(|z| z.name.len())
        .map(|z| z.name.clone());
    declared.or_else(|| {
        Flavour::ALL
            .iter()
            .map(|f| f.private_zone())
            .find(|zone| in_zone(name, zone))
            .map(str::to_owned)
    })
}

/// The public authority for a name: the longest simulated suffix it lies under.
fn authority_for(world: &World, name: &str) -> Authority {
    let public = Flavour::ALL
        .iter()
        .flat_map(|f| [f.private_zone(), f.public_suffix()])
        .filter(|z| in_zone(name, z))
        .max_by_key(|z| z.len())
        .map(|z| Authority {
            zone: z.to_owned(),
            kind: ZoneKind::Public,
        });
    let private = world
        .dns_zones
        .iter()
        .filter(|z| z.relative(name).is_some())
        .max_by_key(|z| z.name.len())
        .map(|z| Authority {
            zone: z.name.clone(),
            kind: ZoneKind::Private,
        });
    match (public, private) {
        (Some(p), Some(q)) => {
            if q.zone.len() >= p.zone.len() {
                q
            } else {
                p
            }
        }
        (Some(p), None) => p,
        (None, Some(q)) => q,
        // A forwarder answer for a name outside the simulation: the name is its own authority.
        (None, None) => Authority {
            zone: name.to_owned(),
            kind: ZoneKind::Public,
        },
    }
}

/// Public (internet) DNS, as far as the simulation has it.
fn public_dns(world: &World, name: &str, explanation: &mut Vec<Step>) -> Lookup {
    for cache in &world.caches {
        let public_zone = Authority {
            zone: cache.flavour.public_suffix().to_owned(),
            kind: ZoneKind::Public,
        };
        if cache.host_name() == name {
            let endpoints: Vec<(String, ConnectionState)> = world
                .endpoints_of(&cache.name)
                .map(|e| (e.name.clone(), e.state))
                .collect();
            if endpoints.is_empty() {
                explanation.push(Step::PublicAddress {
                    name: name.to_owned(),
                    cache: cache.name.clone(),
                    address: cache.public_address,
                    no_private_endpoint: true,
                });
                return Lookup::Addresses(
                    vec![cache.public_address],
                    ttl::PUBLIC_ADDRESS,
                    public_zone,
                );
            }
            let target = cache.privatelink_host_name();
            explanation.push(Step::PrivatelinkCname {
                name: name.to_owned(),
                target: target.clone(),
                cache: cache.name.clone(),
                endpoints,
            });
            return Lookup::Cname(target, ttl::PUBLIC_CNAME, public_zone);
        }
        if cache.privatelink_host_name() == name {
            explanation.push(Step::PublicAddress {
                name: name.to_owned(),
                cache: cache.name.clone(),
                address: cache.public_address,
                no_private_endpoint: false,
            });
            let zone = Authority {
                zone: cache.flavour.private_zone().to_owned(),
                kind: ZoneKind::Public,
            };
            return Lookup::Addresses(vec![cache.public_address], ttl::PUBLIC_ADDRESS, zone);
        }
    }
    let authority = authority_for(world, name);
    let simulated = Flavour::ALL
        .iter()
        .any(|f| in_zone(name, f.public_suffix()))
        || world.dns_zones.iter().any(|z| z.relative(name).is_some());
    if !simulated {
        explanation.push(Step::OutsideSimulation {
            name: name.to_owned(),
        });
        return Lookup::Refused;
    }
    if authority.zone == name {
        explanation.push(Step::ZoneApex {
            zone: authority.zone.clone(),
        });
        return Lookup::NoData(authority);
    }
    explanation.push(Step::PublicNxDomain {
        name: name.to_owned(),
        zone: authority.zone.clone(),
    });
    Lookup::NxDomain(authority)
}
