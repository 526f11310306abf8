//! Toxics: faults on a routed path (Toxiproxy's vocabulary), declared per endpoint and/or per source
//! network in the scenario (`[[toxic]]`, [`ToxicSpec`] as written) or added and removed live
//! ([`crate::World::add_toxic`], [`crate::World::remove_toxic`], in `mutate`). The edge applies them
//! to connections routed after the change; the world only says which toxics apply to a connection
//! ([`crate::World::toxics_for`], next to [`crate::verdict()`]). This module is data only: it
//! depends on no other module of the crate.

use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

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
    /// Toxiproxy's `limit_data`: let `bytes` bytes through, then close (an orderly end, not a
    /// reset).
    LimitData {
        /// Bytes let through before the close.
        bytes: u64,
    },
    /// Toxiproxy's `slow_close`: when the stream ends, hold the close back for `delay_ms`.
    SlowClose {
        /// How long the close waits, in milliseconds.
        delay_ms: u64,
    },
    /// Toxiproxy's `reset_peer`: when the first bytes arrive, swallow them and reset the connection
    /// `timeout_ms` later (0 = at once).
    ResetPeer {
        /// Delay before the reset, in milliseconds.
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
            ToxicKind::LimitData { bytes } => write!(f, "close after {bytes} bytes"),
            ToxicKind::SlowClose { delay_ms } => write!(f, "close delayed {delay_ms} ms"),
            ToxicKind::ResetPeer { timeout_ms } => {
                write!(f, "reset {timeout_ms} ms after the first bytes")
            }
        }
    }
}

/// Toxiproxy's `toxicity`: the fraction of connections a toxic applies to (0 to 1, default 1),
/// kept in millionths so toxics stay comparable; written as a number (`0.5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Toxicity(u32);

impl Toxicity {
    /// Every connection.
    pub const ALWAYS: Toxicity = Toxicity(1_000_000);

    /// From a fraction in 0..=1.
    pub fn from_fraction(f: f64) -> Result<Toxicity, String> {
        if !(0.0..=1.0).contains(&f) {
            return Err(format!("toxicity {f} is not between 0 and 1"));
        }
        // In range: the product is at most 1e6.
        Ok(Toxicity((f * 1_000_000.0).round() as u32))
    }

    /// As a fraction.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / 1_000_000.0
    }

    /// Whether a connection whose roll (uniform in 0..1_000_000) is `roll` gets the toxic.
    pub fn applies(self, roll: u32) -> bool {
        roll < self.0
    }
}

impl Default for Toxicity {
    fn default() -> Self {
        Toxicity::ALWAYS
    }
}

impl Serialize for Toxicity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.fraction())
    }
}

impl<'de> Deserialize<'de> for Toxicity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = f64::deserialize(d)?;
        Toxicity::from_fraction(f).map_err(serde::de::Error::custom)
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
    /// The fraction of connections it applies to.
    #[serde(default)]
    pub toxicity: Toxicity,
}

impl fmt::Display for Toxic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.kind, self.direction)?;
        if self.toxicity != Toxicity::ALWAYS {
            write!(f, ", toxicity {}", self.toxicity.fraction())?;
        }
        f.write_str(")")
    }
}

impl Toxic {
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

/// The `kind` of a `[[toxic]]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToxicKindName {
    /// `latency_ms`, `jitter_ms`.
    Latency,
    /// `rate_kbps`.
    Bandwidth,
    /// `avg_size`, `delay_us`.
    Slicer,
    /// `bytes`.
    ResetAfter,
    /// `timeout_ms`.
    Timeout,
    /// `bytes` (then an orderly close).
    LimitData,
    /// `delay_ms`.
    SlowClose,
    /// `timeout_ms` (after the first bytes; 0 = at once).
    ResetPeer,
}

/// A `[[toxic]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// A private endpoint or a cache.
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// A source network.
    #[serde(default)]
    pub network: Option<Spanned<String>>,
    /// What it does.
    pub kind: Spanned<ToxicKindName>,
    /// Which way (default downstream).
    #[serde(default)]
    pub direction: ToxicDirection,
    /// latency: added delay.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// latency: variation.
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// bandwidth: KB/s.
    #[serde(default)]
    pub rate_kbps: Option<u64>,
    /// slicer: average piece size.
    #[serde(default)]
    pub avg_size: Option<u64>,
    /// slicer: delay between pieces.
    #[serde(default)]
    pub delay_us: Option<u64>,
    /// reset_after: bytes before the reset.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// timeout: milliseconds before the reset (0 = hold forever); reset_peer: after the first
    /// bytes.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// slow_close: how long the close is held back.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// The fraction of connections it applies to (default 1).
    #[serde(default)]
    pub toxicity: Option<Toxicity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxicity_is_a_fraction_of_connections() {
        assert_eq!(Toxicity::default(), Toxicity::ALWAYS);
        let half = Toxicity::from_fraction(0.5).expect("0.5");
        assert!(half.applies(499_999) && !half.applies(500_000));
        assert!(!Toxicity::from_fraction(0.0).expect("0").applies(0));
        assert!(Toxicity::ALWAYS.applies(999_999));
        assert!(Toxicity::from_fraction(1.5).is_err());
        assert!(Toxicity::from_fraction(f64::NAN).is_err());
        let json = serde_json::to_string(&half).expect("serializes");
        assert_eq!(json, "0.5");
        let back: Toxicity = serde_json::from_str("0.25").expect("parses");
        assert_eq!(back.fraction(), 0.25);
        assert!(serde_json::from_str::<Toxicity>("-1").is_err());
    }
}
