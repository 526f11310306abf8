//! What an endpoint does with a connection, and why: the pure function [`verdict`].
//!
//! The rules so far, checked in order (the first that applies decides):
//! 1. The endpoint does not exist in the world → refuse.
//! 2. The cache is stopped → refuse (on every endpoint and port).
//! 3. The port is not one the cache serves (e.g. 6379 while the non-TLS port is off) → refuse.
//! 4. A private endpoint routes when its connection is `Approved`; `Pending`, `Rejected` and
//!    `Disconnected` pass no traffic → refuse.
//! 5. A public endpoint routes when public network access is `Enabled`; `Disabled` → refuse.
//!
//! [`Verdict`] grows with the network policy layer: drop (a connect timeout), reset and blackhole, with
//! per-source verdicts (network rules, firewall rules, peering), so callers match on it exhaustively
//! and this function keeps being the one place that decides.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::endpoint::EndpointId;
use crate::model::{ConnectionState, PublicNetworkAccess, World};

/// What a connection to an endpoint's address:port meets. Grows (drop, reset, blackhole) with the
/// network policy layer; match on it exhaustively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The connection is handed to the cache's engine.
    Route,
    /// Connection refused: nothing listens (the client gets ECONNREFUSED at once).
    Refuse,
}

impl Verdict {
    /// Lowercase name, as reports and the state file spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Route => "route",
            Verdict::Refuse => "refuse",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict for connections to `endpoint` on `port`, and a one-line explanation of it.
pub fn verdict(world: &World, endpoint: &EndpointId, port: u16) -> (Verdict, String) {
    let (cache_name, state) = match endpoint {
        EndpointId::Public { cache } => (cache.as_str(), None),
        EndpointId::Private { endpoint: name } => match world.private_endpoint(name) {
            Some(pe) => (pe.cache.as_str(), Some(pe.state)),
            None => {
                return (
                    Verdict::Refuse,
                    format!("refuse: the world has no private endpoint named {name}"),
                );
            }
        },
    };
    let Some(cache) = world.cache(cache_name) else {
        return (
            Verdict::Refuse,
            format!("refuse: the world has no cache named {cache_name}"),
        );
    };
    if !cache.running {
        return (
            Verdict::Refuse,
            format!("refuse: cache {} is stopped", cache.name),
        );
    }
    if !cache.ports.all().contains(&port) {
        let served: Vec<String> = cache.ports.all().iter().map(u16::to_string).collect();
        let hint = if cache.ports.plain.is_none() && port == cache.flavour.default_port() {
            " (the non-TLS port is disabled)"
        } else {
            ""
        };
        return (
            Verdict::Refuse,
            format!(
                "refuse: cache {} does not serve port {port}{hint}; it serves {}",
                cache.name,
                served.join(", ")
            ),
        );
    }
    match state {
        Some(ConnectionState::Approved) => (
            Verdict::Route,
            format!(
                "route: {endpoint} is Approved; connections go to cache {}",
                cache.name
            ),
        ),
        Some(other) => (
            Verdict::Refuse,
            format!("refuse: {endpoint} is {other}; only Approved connections pass traffic"),
        ),
        None => match cache.public_network_access {
            PublicNetworkAccess::Enabled => {
                let note = if cache.firewall_rules.is_empty() {
                    ""
                } else {
                    " (its firewall rules are not enforced yet)"
                };
                (
                    Verdict::Route,
                    format!(
                        "route: public network access of cache {} is Enabled{note}",
                        cache.name
                    ),
                )
            }
            PublicNetworkAccess::Disabled => (
                Verdict::Refuse,
                format!(
                    "refuse: public network access of cache {} is Disabled",
                    cache.name
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AddressPlan, World, quickstart};

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

    #[test]
    fn quickstart_routes_the_approved_endpoint_and_refuses_public() {
        let w = qs();
        assert_eq!(verdict(&w, &pe("pe-hub"), 6379).0, Verdict::Route);
        assert_eq!(verdict(&w, &pe("pe-hub"), 6380).0, Verdict::Route);
        let (v, why) = verdict(&w, &public("contoso"), 6380);
        assert_eq!(v, Verdict::Refuse);
        assert!(why.contains("Disabled"), "{why}");
    }

    #[test]
    fn every_state_but_approved_refuses() {
        for state in [
            ConnectionState::Pending,
            ConnectionState::Rejected,
            ConnectionState::Disconnected,
        ] {
            let mut w = qs();
            w.set_endpoint_state("pe-hub", state).expect("endpoint");
            let (v, why) = verdict(&w, &pe("pe-hub"), 6380);
            assert_eq!(v, Verdict::Refuse);
            assert!(why.contains(state.as_str()), "{why}");
        }
    }

    #[test]
    fn public_access_enabled_routes() {
        let mut w = qs();
        w.set_public_access("contoso", PublicNetworkAccess::Enabled, None)
            .expect("cache");
        assert_eq!(verdict(&w, &public("contoso"), 6380).0, Verdict::Route);
    }

    #[test]
    fn unserved_ports_unknown_endpoints_and_stopped_caches_refuse() {
        let mut w = qs();
        let (v, why) = verdict(&w, &pe("pe-hub"), 10000);
        assert_eq!(v, Verdict::Refuse);
        assert!(why.contains("does not serve port 10000"), "{why}");
        assert_eq!(verdict(&w, &pe("nope"), 6380).0, Verdict::Refuse);
        assert_eq!(verdict(&w, &public("nope"), 6380).0, Verdict::Refuse);
        w.set_cache_running("contoso", false).expect("cache");
        let (v, why) = verdict(&w, &pe("pe-hub"), 6380);
        assert_eq!(v, Verdict::Refuse);
        assert!(why.contains("stopped"), "{why}");
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
}
