//! Toxics: faults on a routed path (Toxiproxy's vocabulary), declared per endpoint and/or per source
//! network in the scenario (`[[toxic]]`) or added and removed live ([`World::add_toxic`],
//! [`World::remove_toxic`]). The edge applies them to connections routed after the change; the
//! world only says which toxics apply to a connection ([`World::toxics_for`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::endpoint::EndpointId;
use crate::error::WorldError;
use crate::model::World;
use crate::verdict::Source;

/// Which way the bytes a toxic acts on flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToxicDirection {
    /// Client → cache (requests).
    Upstream,
    /// Cache → client (replies), Toxiproxy's default.
    #[default]
    Downstream,
}

impl fmt::Display for ToxicDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ToxicDirection::Upstream => "upstream",
            ToxicDirection::Downstream => "downstream",
        })
    }
}

/// What a toxic does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ToxicKind {
    /// Delay every chunk by `latency_ms` ± `jitter_ms`.
    Latency {
        /// Added delay.
        latency_ms: u64,
        /// Random variation (uniform in ±jitter).
        jitter_ms: u64,
    },
    /// Limit throughput to `rate_kbps` kilobytes per second.
    Bandwidth {
        /// KB/s.
        rate_kbps: u64,
    },
    /// Split data into pieces of about `avg_size` bytes, `delay_us` apart.
    Slicer {
        /// Average piece size in bytes.
        avg_size: u64,
        /// Delay between pieces, in microseconds.
        delay_us: u64,
    },
    /// Reset the connection once `bytes` bytes have passed.
    ResetAfter {
        /// Bytes let through before the reset.
        bytes: u64,
    },
    /// Let nothing through; reset the connection after `timeout_ms` (0 = never: hang).
    Timeout {
        /// When to reset, in milliseconds; 0 holds the connection forever.
        timeout_ms: u64,
    },
}

impl fmt::Display for ToxicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToxicKind::Latency {
                latency_ms,
                jitter_ms,
            } => write!(f, "latency {latency_ms} ms ± {jitter_ms} ms"),
            ToxicKind::Bandwidth { rate_kbps } => write!(f, "bandwidth {rate_kbps} KB/s"),
            ToxicKind::Slicer { avg_size, delay_us } => {
                write!(f, "slicer {avg_size} B pieces every {delay_us} µs")
            }
            ToxicKind::ResetAfter { bytes } => write!(f, "reset after {bytes} bytes"),
            ToxicKind::Timeout { timeout_ms: 0 } => f.write_str("timeout (hold forever)"),
            ToxicKind::Timeout { timeout_ms } => write!(f, "timeout {timeout_ms} ms"),
        }
    }
}

/// One toxic of the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toxic {
    /// Unique name.
    pub name: String,
    /// A private endpoint name, or a cache name (every endpoint of the cache); `None` = any.
    pub endpoint: Option<String>,
    /// The source network whose connections it affects; `None` = any source (the host included).
    pub network: Option<String>,
    /// What it does.
    pub kind: ToxicKind,
    /// Which way.
    pub direction: ToxicDirection,
}

impl fmt::Display for Toxic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.kind, self.direction)
    }
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

    /// Checks the toxic's numbers (a rate of 0 or a piece size of 0 would stall the path).
    pub fn check(&self) -> Result<(), String> {
        match self.kind {
            ToxicKind::Bandwidth { rate_kbps: 0 } => {
                Err(format!("toxic {}: rate_kbps must be at least 1", self.name))
            }
            ToxicKind::Slicer { avg_size: 0, .. } => {
                Err(format!("toxic {}: avg_size must be at least 1", self.name))
            }
            _ => Ok(()),
        }
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

    /// Adds a toxic (its name must be new, its endpoint and network must exist).
    pub fn add_toxic(&mut self, toxic: Toxic) -> Result<(), WorldError> {
        if self.toxics.iter().any(|t| t.name == toxic.name) {
            return Err(WorldError::Duplicate {
                kind: "toxic",
                name: toxic.name,
            });
        }
        if let Some(n) = &toxic.network
            && self.network(n).is_none()
        {
            return Err(WorldError::UnknownNetwork(n.clone()));
        }
        if let Some(e) = &toxic.endpoint
            && self.private_endpoint(e).is_none()
            && self.cache(e).is_none()
        {
            return Err(WorldError::UnknownEndpoint(e.clone()));
        }
        toxic.check().map_err(WorldError::Invalid)?;
        self.toxics.push(toxic);
        Ok(())
    }

    /// Removes the toxic `name` and returns it.
    pub fn remove_toxic(&mut self, name: &str) -> Result<Toxic, WorldError> {
        let i = self
            .toxics
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| WorldError::Invalid(format!("the world has no toxic named {name}")))?;
        Ok(self.toxics.remove(i))
    }
}
