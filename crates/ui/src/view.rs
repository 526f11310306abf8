//! What the page draws, as one JSON document (`GET /api/view`): the topology (networks and
//! peerings, private DNS zones with their records and links, custom forwarders, caches with their
//! public endpoint, access and firewall, private endpoints with their state), where each cache name
//! resolves from each network right now (the world's own `resolve()`, the same function the DNS
//! views answer with), each endpoint port's verdict per network (the edge's, from the state file),
//! the connection counters, the timeline and the lab's score. Built from the running world on
//! each request, so it is never stale; passwords are never included (only whether one is set).

use std::collections::BTreeMap;

use redlink_runtime::{EndpointKind, RunningWorld};
use redlink_scenario::LabReport;
use redlink_world::{AddressOwner, Outcome, QueryType, resolve};
use serde::Serialize;

use crate::timeline::TimelineView;

/// The whole view.
#[derive(Debug, Serialize)]
pub struct View {
    /// The world's name.
    pub name: String,
    /// The scenario file.
    pub scenario: String,
    /// Whether actions need the control password.
    pub password_required: bool,
    /// Networks, in file order.
    pub networks: Vec<NetworkView>,
    /// Private DNS zones.
    pub zones: Vec<ZoneView>,
    /// Caches with their endpoints.
    pub caches: Vec<CacheView>,
    /// Where each cache name resolves from each network.
    pub resolution: Vec<ResolutionView>,
    /// The timeline.
    pub timeline: TimelineView,
    /// The lab's latest score, when the scenario has exercises.
    pub lab: Option<LabReport>,
}

/// One network.
#[derive(Debug, Serialize)]
pub struct NetworkView {
    /// Its name.
    pub name: String,
    /// Its resolver (address:port).
    pub resolver: String,
    /// Its clients' source address.
    pub client_address: String,
    /// Networks peered with it.
    pub peered_with: Vec<String>,
    /// Its custom DNS server, if any: name, where it forwards, its static answers.
    pub forwarder: Option<ForwarderView>,
}

/// A custom DNS server.
#[derive(Debug, Serialize)]
pub struct ForwarderView {
    /// Its name.
    pub name: String,
    /// Whose Azure DNS answers the rest.
    pub forwards_to: Option<String>,
    /// Its static answers: name → address.
    pub answers: BTreeMap<String, String>,
}

/// One private DNS zone.
#[derive(Debug, Serialize)]
pub struct ZoneView {
    /// Its name.
    pub name: String,
    /// Its A records: `name → address` (registered by an endpoint or written).
    pub records: Vec<RecordView>,
    /// Its virtual network links.
    pub links: Vec<LinkView>,
}

/// One A record.
#[derive(Debug, Serialize)]
pub struct RecordView {
    /// Relative name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The endpoint that registered it, if one did.
    pub registered_by: Option<String>,
}

/// One zone link.
#[derive(Debug, Serialize)]
pub struct LinkView {
    /// The link's name.
    pub name: String,
    /// The linked network.
    pub network: String,
    /// `Default` or `NxDomainRedirect`.
    pub resolution_policy: String,
}

/// One cache.
#[derive(Debug, Serialize)]
pub struct CacheView {
    /// Its name.
    pub name: String,
    /// Its public host name.
    pub hostname: String,
    /// `Enabled` / `Disabled`.
    pub public_network_access: String,
    /// Whether its engine runs.
    pub running: bool,
    /// Whether clients must AUTH (the password itself is never shown).
    pub requirepass: bool,
    /// Firewall rules on the public endpoint (`name: start-end`).
    pub firewall: Vec<String>,
    /// The public endpoint first, then the private ones.
    pub endpoints: Vec<EndpointView>,
}

/// One endpoint.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    /// `public` or the private endpoint's name.
    pub name: String,
    /// `public` or `private`.
    pub kind: String,
    /// A private endpoint's network.
    pub network: Option<String>,
    /// Its address.
    pub address: String,
    /// A private endpoint's connection state.
    pub state: Option<String>,
    /// Each port: its verdict for the host and per network.
    pub ports: Vec<PortView>,
    /// Connections seen since the world started, by verdict.
    pub counts: BTreeMap<String, u64>,
}

/// One endpoint port.
#[derive(Debug, Serialize)]
pub struct PortView {
    /// The port.
    pub port: u16,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// The verdict for the host (127.0.0.1) and why.
    pub host: VerdictView,
    /// The verdict per network.
    pub networks: BTreeMap<String, VerdictView>,
}

/// One verdict.
#[derive(Debug, Serialize)]
pub struct VerdictView {
    /// route, refuse, drop, reset, blackhole.
    pub verdict: String,
    /// Why.
    pub reason: String,
}

/// Where one cache name resolves from one network.
#[derive(Debug, Serialize)]
pub struct ResolutionView {
    /// The network asking.
    pub network: String,
    /// The cache.
    pub cache: String,
    /// The name asked.
    pub host: String,
    /// `private`, `public`, `nxdomain`, `nodata`, `refused` or `other` (an address nobody owns).
    pub kind: String,
    /// The address answered, or the response code.
    pub answer: String,
    /// The private endpoint whose address it is.
    pub endpoint: Option<String>,
    /// One sentence.
    pub summary: String,
    /// The steps of the resolution.
    pub explanation: Vec<String>,
}

/// The view of `world` now.
pub async fn view(
    world: &RunningWorld,
    password_required: bool,
    timeline: TimelineView,
    lab: Option<LabReport>,
) -> View {
    let state = world.state().await;
    let w = world.world();
    let counts = world.connection_counts();
    let networks = w
        .networks
        .iter()
        .map(|n| NetworkView {
            name: n.name.clone(),
            resolver: state
                .networks
                .get(&n.name)
                .map_or_else(|| n.resolver.to_string(), |s| s.resolver.to_string()),
            client_address: n.client_address.to_string(),
            peered_with: n.peered_with.clone(),
            forwarder: n.forwarder.as_ref().map(|f| ForwarderView {
                name: f.name.clone(),
                forwards_to: f.forwards_to.clone(),
                answers: f
                    .answers
                    .iter()
                    .map(|(k, a)| (k.clone(), a.address.to_string()))
                    .collect(),
            }),
        })
        .collect();
    let zones = w
        .dns_zones
        .iter()
        .map(|z| ZoneView {
            name: z.name.clone(),
            records: z
                .records
                .iter()
                .map(|r| RecordView {
                    name: r.name.clone(),
                    address: r.address.to_string(),
                    registered_by: r.registered_by.clone(),
                })
                .collect(),
            links: z
                .links
                .iter()
                .map(|l| LinkView {
                    name: l.name.clone(),
                    network: l.network.clone(),
                    resolution_policy: l.resolution_policy.to_string(),
                })
                .collect(),
        })
        .collect();
    let caches = w
        .caches
        .iter()
        .map(|c| {
            let endpoints = state
                .caches
                .get(&c.name)
                .map(|cs| {
                    cs.endpoints
                        .iter()
                        .map(|e| EndpointView {
                            name: e.name.clone(),
                            kind: match e.kind {
                                EndpointKind::Public => "public".to_owned(),
                                EndpointKind::Private => "private".to_owned(),
                            },
                            network: e.network.clone(),
                            address: e.address.to_string(),
                            state: e.state.map(|s| s.to_string()),
                            ports: e
                                .ports
                                .iter()
                                .filter_map(|p| {
                                    let v = e.verdicts.get(&p.to_string())?;
                                    Some(PortView {
                                        port: *p,
                                        tls: e.tls_ports.contains(p),
                                        host: VerdictView {
                                            verdict: v.verdict.as_str().to_owned(),
                                            reason: v.reason.clone(),
                                        },
                                        networks: v
                                            .networks
                                            .iter()
                                            .map(|(n, s)| {
                                                (
                                                    n.clone(),
                                                    VerdictView {
                                                        verdict: s.verdict.as_str().to_owned(),
                                                        reason: s.reason.clone(),
                                                    },
                                                )
                                            })
                                            .collect(),
                                    })
                                })
                                .collect(),
                            counts: counts
                                .get(&e.address.to_string())
                                .cloned()
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            CacheView {
                name: c.name.clone(),
                hostname: c.host_name(),
                public_network_access: c.public_network_access.to_string(),
                running: c.running,
                requirepass: c.requirepass.is_some(),
                firewall: c
                    .firewall_rules
                    .iter()
                    .map(|r| format!("{}: {}-{}", r.name, r.start, r.end))
                    .collect(),
                endpoints,
            }
        })
        .collect();
    let mut resolution = Vec::new();
    for n in &w.networks {
        for c in &w.caches {
            let host = c.host_name();
            let r = resolve(&w, &n.name, &host, QueryType::A);
            let (kind, answer, endpoint) = match r.outcome(&w) {
                Outcome::Address { address, owner } => match owner {
                    Some(AddressOwner::PrivateEndpoint { endpoint, .. }) => {
                        ("private", address.to_string(), Some(endpoint))
                    }
                    Some(AddressOwner::Public { .. }) => ("public", address.to_string(), None),
                    _ => ("other", address.to_string(), None),
                },
                Outcome::NoData => ("nodata", "NODATA".to_owned(), None),
                Outcome::NxDomain => ("nxdomain", "NXDOMAIN".to_owned(), None),
                Outcome::Refused => ("refused", "REFUSED".to_owned(), None),
            };
            resolution.push(ResolutionView {
                network: n.name.clone(),
                cache: c.name.clone(),
                host,
                kind: kind.to_owned(),
                answer,
                endpoint,
                summary: r.summary(),
                explanation: r.explanation_lines(),
            });
        }
    }
    View {
        name: state.name.clone().unwrap_or_else(|| "(unnamed)".to_owned()),
        scenario: state.scenario.clone(),
        password_required,
        networks,
        zones,
        caches,
        resolution,
        timeline,
        lab,
    }
}
