//! Every endpoint port of a world, kept in line with it: [`Edge::apply`] reserves the ports of new
//! endpoints, releases those of vanished ones, and puts each port's [`verdict`] in force.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use redlink_engine::Engine;
use redlink_world::{EndpointId, Verdict, World, verdict};

use crate::error::EdgeError;
use crate::port::{EndpointPort, PortKey};

/// What one endpoint port does, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its cache.
    pub cache: String,
    /// Address and port.
    pub address: SocketAddr,
    /// Whether the port speaks TLS.
    pub tls: bool,
    /// The verdict in force.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
}

/// The endpoint ports of one world.
#[derive(Debug, Default)]
pub struct Edge {
    ports: BTreeMap<PortKey, EndpointPort>,
}

impl Edge {
    /// An edge holding nothing yet.
    pub fn new() -> Edge {
        Edge::default()
    }

    /// Brings the edge in line with `world`: reserves every endpoint port it does not hold yet,
    /// releases those the world no longer has, and applies each port's verdict (routing to the
    /// cache's engine in `engines`). On error, what was applied so far stays applied.
    pub async fn apply(
        &mut self,
        world: &World,
        engines: &HashMap<String, Engine>,
    ) -> Result<(), EdgeError> {
        let mut wanted: BTreeMap<PortKey, (String, bool)> = BTreeMap::new();
        for e in world.endpoints() {
            for &port in &e.ports {
                let key = PortKey {
                    endpoint: e.id.clone(),
                    address: e.address,
                    port,
                };
                wanted.insert(key, (e.cache.clone(), e.is_tls_port(port)));
            }
        }
        let gone: Vec<PortKey> = self
            .ports
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mut p) = self.ports.remove(&key) {
                p.close().await;
            }
        }
        // A port whose cache or TLS flag changed is reopened.
        let changed: Vec<PortKey> = self
            .ports
            .iter()
            .filter(|(k, p)| {
                wanted
                    .get(*k)
                    .is_some_and(|(cache, tls)| p.cache() != cache || p.tls() != *tls)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in changed {
            if let Some(mut p) = self.ports.remove(&key) {
                p.close().await;
            }
        }
        for (key, (cache, tls)) in &wanted {
            if !self.ports.contains_key(key) {
                let port = EndpointPort::reserve(key.clone(), cache, *tls)?;
                self.ports.insert(key.clone(), port);
            }
        }
        for (key, port) in &mut self.ports {
            let (v, reason) = verdict(world, &key.endpoint, key.port);
            port.apply(v, reason, engines.get(port.cache())).await?;
        }
        Ok(())
    }

    /// What every port does, in a stable order (by endpoint, address, port).
    pub fn status(&self) -> Vec<PortStatus> {
        self.ports
            .values()
            .map(|p| PortStatus {
                endpoint: p.key().endpoint.clone(),
                cache: p.cache().to_owned(),
                address: p.key().socket_addr(),
                tls: p.tls(),
                verdict: p.verdict(),
                reason: p.reason().to_owned(),
            })
            .collect()
    }

    /// The status of `endpoint`'s `port`, if the edge holds it.
    pub fn port_status(&self, endpoint: &EndpointId, port: u16) -> Option<PortStatus> {
        self.status()
            .into_iter()
            .find(|s| &s.endpoint == endpoint && s.address.port() == port)
    }

    /// Closes every listener and releases every reservation.
    pub async fn shutdown(&mut self) {
        for (_, mut p) in std::mem::take(&mut self.ports) {
            p.close().await;
        }
    }
}
