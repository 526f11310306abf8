//! What one endpoint port does for each source: the world's verdict per [`Source`] and the
//! primitive that carries it out ([`SourceVerdict::action`]), which differs from the verdict only
//! when the edge has to fall back (a per-source refusal, or a per-source drop without the
//! privilege to attach a socket filter, become reset-after-accept; the reason says so).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use std::sync::Arc;

use redlink_engine::Engine;
use redlink_engine::cluster::ClusterAnnounce;

use crate::backend::BackendLink;
use redlink_world::{EndpointId, Source, Toxic, Verdict, World, verdict};

/// The verdict for one source on one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceVerdict {
    /// The source.
    pub source: Source,
    /// The source's client address (127.0.0.1 for the host).
    pub address: Ipv4Addr,
    /// What the world says.
    pub verdict: Verdict,
    /// The primitive in force (the verdict, or its fallback).
    pub action: Verdict,
    /// The world's explanation, plus any fallback note.
    pub reason: String,
    /// The toxics a routed connection passes through.
    pub toxics: Vec<Toxic>,
}

impl SourceVerdict {
    /// Replaces the primitive with `action`, noting why.
    pub(crate) fn fall_back(&mut self, action: Verdict, note: &str) {
        self.action = action;
        self.reason = format!("{}; {note}", self.reason);
    }
}

/// The verdicts of one endpoint port for every source (the host first).
#[derive(Clone)]
pub struct PortPlan {
    /// Per source, the host first.
    pub sources: Vec<SourceVerdict>,
    by_address: HashMap<Ipv4Addr, usize>,
    /// The engine routed connections go to.
    pub engine: Option<Engine>,
    /// The cache's backend, when it has one: routed connections are proxied there instead.
    pub backend: Option<BackendLink>,
    /// A clustered cache's node addresses as this endpoint tells them (see
    /// [`crate::EndpointAnnounce`]).
    pub announce: Option<Arc<dyn ClusterAnnounce>>,
}

impl std::fmt::Debug for PortPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortPlan")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl PortPlan {
    /// The plan of `endpoint`'s `port` in `world`; `engine` is the cache's engine (route without
    /// one refuses).
    pub fn compute(
        world: &World,
        endpoint: &EndpointId,
        port: u16,
        cache: &str,
        engine: Option<&Engine>,
    ) -> PortPlan {
        let sources: Vec<SourceVerdict> = Source::all(world)
            .into_iter()
            .filter_map(|source| {
                let address = source.address(world)?;
                let (mut v, mut reason) = verdict(world, endpoint, port, &source);
                if v == Verdict::Route && engine.is_none() {
                    v = Verdict::Refuse;
                    reason = format!("cache {cache} has no engine, so the connection was refused");
                }
                let toxics = if v == Verdict::Route {
                    world
                        .toxics_for(endpoint, &source)
                        .into_iter()
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                Some(SourceVerdict {
                    source,
                    address,
                    verdict: v,
                    action: v,
                    reason,
                    toxics,
                })
            })
            .collect();
        PortPlan::from_sources(sources, engine.cloned())
    }

    /// A plan from its per-source verdicts (the host's must come first).
    pub fn from_sources(sources: Vec<SourceVerdict>, engine: Option<Engine>) -> PortPlan {
        let by_address = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.source != Source::Host)
            .map(|(i, s)| (s.address, i))
            .collect();
        PortPlan {
            sources,
            by_address,
            engine,
            backend: None,
            announce: None,
        }
    }

    /// A plan that refuses everyone (before the first verdict).
    pub fn refusing(reason: &str) -> PortPlan {
        PortPlan::from_sources(
            vec![SourceVerdict {
                source: Source::Host,
                address: redlink_world::HOST_ADDRESS,
                verdict: Verdict::Refuse,
                action: Verdict::Refuse,
                reason: reason.to_owned(),
                toxics: Vec::new(),
            }],
            None,
        )
    }

    /// The verdict for a connection from `peer` (a network's client address, else the host).
    pub fn decide(&self, peer: IpAddr) -> Option<&SourceVerdict> {
        let i = match peer {
            IpAddr::V4(a) => self.by_address.get(&a).copied().unwrap_or(0),
            IpAddr::V6(_) => 0,
        };
        self.sources.get(i)
    }

    /// The verdict for `source`, if the plan has it.
    pub fn for_source(&self, source: &Source) -> Option<&SourceVerdict> {
        self.sources.iter().find(|s| &s.source == source)
    }

    /// The host's verdict.
    pub fn host(&self) -> Option<&SourceVerdict> {
        self.sources.first()
    }

    /// The action every source gets, when they all get the same.
    pub fn uniform_action(&self) -> Option<Verdict> {
        let first = self.sources.first()?.action;
        self.sources
            .iter()
            .all(|s| s.action == first)
            .then_some(first)
    }
}
